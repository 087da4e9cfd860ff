#pragma once
// Whether a failed gang attempt is retried: one rule shared by the operator and local mode.
//
//   Never     → never retried.
//   OnFailure → retried while restarts < backoffLimit.
//   ExitCode  → exit codes 1–127 are permanent (the program says it is broken); 128–255
//               (killed by a signal, or the runtime's retryable codes 175/176) and pod
//               disruptions (eviction, deletion, node loss, gang timeout, stall) are retried
//               while restarts < backoffLimit.
// The first restart starts at once; from the second, the backoff between attempts doubles from
// `base` up to `cap`.

#include <chrono>
#include <optional>
#include <string>

#include "ringleader/api/trainingjob.h"

namespace ringleader::controller {

// Why an attempt ended.
enum class FailureKind {
  kExitCode,     // a worker's container exited non-zero
  kDisruption,   // evicted, deleted out of band, node lost, preempted
  kGangTimeout,  // not all workers Running within gang.timeoutSeconds
  kStalled,      // Running, but status.progress.step did not advance for progressDeadlineSeconds
};

struct AttemptFailure {
  FailureKind kind = FailureKind::kExitCode;
  int64_t rank = -1;
  std::optional<int> exit_code;  // for kExitCode
  std::string reason;            // "Error", "OOMKilled", "Evicted", "Deleted", "GangTimeout"
  std::string message;           // human detail, e.g. the pod name
};

struct RestartDecision {
  bool retry = false;
  std::string reason;   // condition/event reason: "BackoffLimitExceeded", "PermanentExitCode", ...
  std::string message;  // one line naming the rank, exit code and rule
};

RestartDecision DecideRestart(const api::RunPolicy& policy, int64_t restarts_so_far,
                              const AttemptFailure& failure);

// Delay before the attempt of restart number `restarts` (1-based) starts: none for the first
// (one failure is most often a node or a blip, and a gang waiting costs every GPU in it), then
// base * 2^(restarts-2), capped.
std::chrono::milliseconds RestartBackoff(int64_t restarts, std::chrono::milliseconds base,
                                         std::chrono::milliseconds cap);

// "worker 2 exited with code 137 (OOMKilled)" and the like.
std::string DescribeFailure(const AttemptFailure& failure);

}  // namespace ringleader::controller
