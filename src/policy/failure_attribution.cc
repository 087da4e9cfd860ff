#include "ringleader/policy/failure_attribution.h"

#include <tuple>

#include "ringleader/common/worker_contract.h"

namespace ringleader::controller {

namespace {

// Smaller is more likely the root cause. RFC 3339 UTC timestamps of one writer compare as
// strings.
std::tuple<bool, const std::string&, bool, int64_t> BlameOrder(const FailedWorker& w) {
  const bool time_unknown = w.finished_at.empty();
  const bool peer_failed = w.exit_code == contract::kExitPeerFailed;
  return {time_unknown, w.finished_at, peer_failed, w.rank};
}

}  // namespace

std::optional<size_t> PickRootCause(const std::vector<FailedWorker>& failed) {
  if (failed.empty()) return std::nullopt;
  size_t best = 0;
  for (size_t i = 1; i < failed.size(); ++i) {
    if (BlameOrder(failed[i]) < BlameOrder(failed[best])) best = i;
  }
  return best;
}

}  // namespace ringleader::controller
