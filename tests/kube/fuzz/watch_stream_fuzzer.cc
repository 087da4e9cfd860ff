// libFuzzer target for the watch stream: the line decoder fed in fuzzer-chosen read sizes, the
// JSON event parser on every line, the ERROR→Status mapping, the API Status body parser (on
// every line and on the whole input: wrongly-typed fields such as {"kind":0} must not throw)
// and the Retry-After header parser, and the FieldMask decoder on every line.
// Invariants checked: no crash / sanitizer report, decoded lines never contain '\n', the
// decoder never holds more than its limit, parsed events always carry an object, a masked
// parse succeeds exactly when the whole parse does (same type), and the keep-all mask decodes
// exactly what Json::parse does.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringleader/kube/api_error.h"
#include "ringleader/kube/field_mask.h"
#include "ringleader/kube/watch_decoder.h"

using namespace ringleader::kube;

namespace {

// A pod-like object mask, as the operator's pod informer uses.
const FieldMask& EventMask() {
  static const FieldMask mask = WatchEventMask(
      *FieldMask::Parse("metadata(name,uid,labels,ownerReferences(uid,controller)),spec(nodeName,containers(resources(requests))),status(phase,conditions(type,status))"));
  return mask;
}

void CheckMasked(const std::string& line, const ringleader::StatusOr<WatchEvent>& whole) {
  auto masked = ParseWatchEvent(line, &EventMask());
  if (masked.ok() != whole.ok()) std::abort();
  if (masked.ok() && (masked->type != whole->type || !masked->object.is_object())) std::abort();
  auto all = DecodeMasked(line, FieldMask());
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (all.ok() == parsed.is_discarded()) std::abort();
  if (all.ok() && *all != parsed) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte: read size pattern (1..32 bytes, or everything at once when 0).
  const size_t step = data[0] % 33;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr size_t kLimit = 4096;
  WatchLineDecoder decoder(kLimit);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = step == 0 ? input.size() : std::min(step, input.size() - pos);
    lines.clear();
    ringleader::Status fed = decoder.Feed(input.substr(pos, n), &lines);
    pos += n;
    if (decoder.pending_bytes() > kLimit) std::abort();
    for (const std::string& line : lines) {
      if (line.find('\n') != std::string::npos) std::abort();
      (void)ParseApiStatus(0, line);
      auto event = ParseWatchEvent(line);
      CheckMasked(line, event);
      if (event.ok()) {
        if (!event->object.is_object()) std::abort();
        if (event->type == WatchEventType::kError) {
          ringleader::Status status = WatchErrorToStatus(*event);
          if (status.ok()) std::abort();  // an ERROR event is never success
        }
      }
    }
    if (!fed.ok()) break;
  }
  std::string rest;
  if (decoder.TakeRemainder(&rest)) (void)ParseWatchEvent(rest);
  ApiStatus api = ParseApiStatus(400 + data[0] % 200, std::string(input));
  if (api.retry_after_seconds &&
      (*api.retry_after_seconds < 0 || *api.retry_after_seconds > kMaxRetryAfterSeconds)) {
    std::abort();
  }
  (void)ToStatus(api, "fuzz");
  std::optional<int> retry_after = ParseRetryAfter(input.substr(0, 32));
  if (retry_after && (*retry_after < 0 || *retry_after > kMaxRetryAfterSeconds)) std::abort();
  return 0;
}
