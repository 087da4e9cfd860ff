#pragma once
// How the runtime turns a failure into one of the contract's exit codes
// (common/worker_contract.h, which defines the numbers). The contract's codes are brought into
// ringleader::runtime so that runtime programs spell them unqualified.
//
// Thread-safety: a pure function.

#include "ringleader/common/status.h"
#include "ringleader/common/worker_contract.h"

namespace ringleader::runtime {

using contract::kExitCommunicationFailed;
using contract::kExitPeerFailed;
using contract::kExitRendezvousTimeout;
using contract::kExitStopped;
using contract::kExitSuccess;
using contract::kExitUsageError;

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
