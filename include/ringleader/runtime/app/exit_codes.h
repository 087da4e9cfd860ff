#pragma once
// Exit codes of ringleader-worker (and of any program built on the runtime). The operator's
// ExitCode restart policy treats 128-255 as retryable (restart the whole gang) and 1-127 as
// permanent (fail the TrainingJob), so the numbers below are part of the operator contract:
// change them only together with docs/runtime.md and the controller.

#include "ringleader/common/status.h"

namespace ringleader::runtime {

inline constexpr int kExitSuccess = 0;
// Bad flag or bad environment: retrying the same pod spec cannot help. Permanent.
inline constexpr int kExitUsageError = 2;
// A peer rank failed, disappeared or hung mid-collective. Retryable: restart the gang.
inline constexpr int kExitPeerFailed = 175;
// Rendezvous did not complete before its deadline (the message names the missing ranks).
// Retryable: a pod may have been slow to schedule.
inline constexpr int kExitRendezvousTimeout = 176;
// This rank's own collective transport or device failed: shm_open/mmap, CUDA or NCCL setup,
// MPI_Init, an unexpected connection on the ring. Not a configuration error (those are
// kExitUsageError), so retryable: the next attempt may land on a healthy node.
inline constexpr int kExitCommunicationFailed = 177;
// Stopped by SIGTERM (eviction, preemption, suspend, a gang stop) after checkpointing the last
// completed step: 128 + SIGTERM, as a process killed by it would report. Retryable.
inline constexpr int kExitStopped = 143;

// The exit code for a failed communicator setup, collective or training step: kInvalidArgument
// (configuration) -> kExitUsageError, permanent; a lost, hung or disconnected peer (kAborted,
// kDeadlineExceeded, kUnavailable) -> kExitPeerFailed; anything else (kInternal from shm,
// CUDA, NCCL or MPI setup, ...) -> kExitCommunicationFailed. Only configuration errors are
// permanent, so the operator restarts the gang for everything else. (A failed
// Rendezvous::Join is kExitRendezvousTimeout unless it is kInvalidArgument.)
inline int ExitCodeForFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitSuccess;
    case StatusCode::kInvalidArgument:
      return kExitUsageError;
    case StatusCode::kAborted:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnavailable:
      return kExitPeerFailed;
    default:
      return kExitCommunicationFailed;
  }
}

}  // namespace ringleader::runtime
