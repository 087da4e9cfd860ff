#pragma once
// Exit codes of ringleader-worker (and of any program built on the runtime). The operator's
// ExitCode restart policy treats 128-255 as retryable (restart the whole gang) and 1-127 as
// permanent (fail the TrainingJob), so the numbers below are part of the operator contract:
// change them only together with docs/runtime.md and the controller.

namespace ringleader::runtime {

inline constexpr int kExitSuccess = 0;
// Bad flag or bad environment: retrying the same pod spec cannot help. Permanent.
inline constexpr int kExitUsageError = 2;
// A peer rank failed, disappeared or hung mid-collective. Retryable: restart the gang.
inline constexpr int kExitPeerFailed = 175;
// Rendezvous did not complete before its deadline (the message names the missing ranks).
// Retryable: a pod may have been slow to schedule.
inline constexpr int kExitRendezvousTimeout = 176;

}  // namespace ringleader::runtime
