#pragma once
// What the reconciler needs to know about one worker pod, read out of its JSON once.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ringleader::controller {

struct ObservedPod {
  std::string name;
  int64_t rank = -1;     // ringleader.dev/rank label; -1 when missing or malformed
  int64_t attempt = -1;  // ringleader.dev/attempt label
  std::string phase;     // Pending, Running, Succeeded, Failed, Unknown
  bool ready = false;    // Ready condition True
  bool gated = false;    // still holds the ringleader.dev/gang scheduling gate
  bool terminating = false;  // metadata.deletionTimestamp set
  // metadata.deletionTimestamp: when the pod's grace period ends ("" when not terminating).
  std::string deletion_timestamp;
  std::string node_name;
  // For failed pods: the first terminated container's exit code and reason, or the pod's
  // status.reason (Evicted, DeadlineExceeded, ...) when no container says more.
  std::optional<int> exit_code;
  std::string reason;
  bool disrupted = false;
  // RFC 3339 finishedAt of the terminated container that gave exit_code ("" if unknown):
  // the first worker to fail is the root cause, the others often fail because it did.
  std::string finished_at;  // evicted / preempted / node lost: the program did not fail
};

ObservedPod ObservePod(const nlohmann::json& pod);

}  // namespace ringleader::controller
