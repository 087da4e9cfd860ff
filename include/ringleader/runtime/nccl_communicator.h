#pragma once
// The `nccl` backend (compiled when CUDA and NCCL are found: RINGLEADER_HAVE_NCCL).
//   - rank 0 creates the ncclUniqueId and shares it through the rendezvous store;
//   - ncclCommInitRankConfig in non-blocking mode, polled with ncclCommGetAsyncError until
//     the rendezvous deadline (ncclCommAbort on timeout: a missing rank never hangs us);
//   - ncclAllReduce (ncclAvg for averages) on a dedicated stream; completion is polled with
//     a CUDA event while ncclCommGetAsyncError is checked (the async-error watchdog), and the
//     communicator is aborted when the collective timeout passes or NCCL reports an error,
//     naming the failed peer through the store when it is known.
// Buffers are device pointers (uses_device_memory() is true).
//
// Thread-safety: one collective at a time.

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>
#include <string>

#include "ringleader/runtime/communicator.h"
#include "ringleader/runtime/socket.h"

// Returns InternalError("file:line: expr: <NCCL's text>") from the enclosing Status-returning
// function when an NCCL call fails. ncclInProgress is not a failure: non-blocking
// communicators return it while an operation is pending (poll ncclCommGetAsyncError).
#define RL_NCCL_CHECK(expr)                                                                       \
  do {                                                                                            \
    ncclResult_t rl_nccl_res_ = (expr);                                                           \
    if (rl_nccl_res_ != ncclSuccess && rl_nccl_res_ != ncclInProgress) {                          \
      return ::ringleader::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                         ": " #expr ": " + ncclGetErrorString(rl_nccl_res_));     \
    }                                                                                             \
  } while (0)

namespace ringleader::runtime {

class NcclCommunicator : public Communicator {
 public:
  static StatusOr<std::unique_ptr<NcclCommunicator>> Create(Rendezvous& rendezvous,
                                                            const CommunicatorOptions& options);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kNccl; }
  bool uses_device_memory() const override { return true; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;
  Status Barrier() override;

  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }

 private:
  NcclCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options);
  // Polls until NCCL finished the pending (non-blocking) call or the deadline passes.
  Status WaitForNccl(Deadline deadline, const char* what);
  Status Abort(const std::string& why);

  Rendezvous& rendezvous_;
  CommunicatorOptions options_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  void* barrier_token_ = nullptr;
  Status broken_;
};

// Number of visible CUDA devices (0 when there is no driver or no device).
int CudaDeviceCount();

}  // namespace ringleader::runtime
