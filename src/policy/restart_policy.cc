#include "ringleader/policy/restart_policy.h"

#include <algorithm>

namespace ringleader::controller {

std::string DescribeFailure(const AttemptFailure& f) {
  std::string who = f.rank >= 0 ? "worker " + std::to_string(f.rank) : "the gang";
  std::string out;
  switch (f.kind) {
    case FailureKind::kExitCode:
      out = who + " exited with code " + (f.exit_code ? std::to_string(*f.exit_code) : "unknown");
      if (!f.reason.empty()) out += " (" + f.reason + ")";
      break;
    case FailureKind::kDisruption:
      out = who + " was disrupted (" + (f.reason.empty() ? "Disruption" : f.reason) + ")";
      break;
    case FailureKind::kGangTimeout:
      out = who + " did not have every worker Running within gang.timeoutSeconds";
      break;
    case FailureKind::kStalled:
      out = who + " stalled (Stalled)";
      break;
  }
  if (!f.message.empty()) out += ": " + f.message;
  return out;
}

RestartDecision DecideRestart(const api::RunPolicy& policy, int64_t restarts_so_far,
                              const AttemptFailure& failure) {
  const std::string what = DescribeFailure(failure);
  if (policy.restart_policy == api::RestartPolicy::kNever) {
    return {false, "RestartPolicyNever", what + "; restartPolicy Never does not restart"};
  }
  if (policy.restart_policy == api::RestartPolicy::kExitCode && failure.kind == FailureKind::kExitCode) {
    int code = failure.exit_code.value_or(1);
    if (code >= 1 && code <= 127) {
      return {false, "PermanentExitCode",
              what + "; restartPolicy ExitCode treats 1-127 as permanent"};
    }
  }
  if (restarts_so_far >= policy.backoff_limit) {
    return {false, "BackoffLimitExceeded",
            what + "; backoffLimit " + std::to_string(policy.backoff_limit) + " reached after " +
                std::to_string(restarts_so_far) + (restarts_so_far == 1 ? " restart" : " restarts")};
  }
  return {true, "GangRestarting",
          what + "; restarting the gang (restart " + std::to_string(restarts_so_far + 1) + " of " +
              std::to_string(policy.backoff_limit) + ")"};
}

std::chrono::milliseconds RestartBackoff(int64_t restarts, std::chrono::milliseconds base,
                                         std::chrono::milliseconds cap) {
  if (restarts <= 1) return std::chrono::milliseconds(0);
  auto delay = base;
  for (int64_t i = 2; i < restarts && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

}  // namespace ringleader::controller
