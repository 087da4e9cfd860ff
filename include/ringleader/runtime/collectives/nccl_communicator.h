#pragma once
// The `nccl` backend (compiled when CUDA and NCCL are found: RINGLEADER_HAVE_NCCL).
//   - the device is ChooseCudaDevice(options.local_rank, visible devices) (gpu_setup.h); every
//     rank publishes its (host, GPU UUID) and rank 0 refuses two ranks on one GPU with a
//     configuration error (kInvalidArgument) that it hands every rank instead of the id;
//   - rank 0 creates the ncclUniqueId and shares it through the rendezvous store;
//   - ncclCommInitRankConfig in non-blocking mode, polled with ncclCommGetAsyncError until
//     the collective timeout (ncclCommAbort on timeout: a missing rank never hangs us);
//   - ncclAllReduce (ncclAvg for averages) on the communicator's own stream, which first waits
//     for the caller's work: everything queued before the call on the legacy default stream
//     (plain cudaMemcpy/cudaMemset and kernels on stream 0 or any blocking stream) and on the
//     input stream, if one was set. Completion is polled with a CUDA event while
//     ncclCommGetAsyncError is checked (the async-error watchdog); AllReduce returns when the
//     result is in `buffer`, so any stream may read it afterwards.
//   - when the collective timeout (CommunicatorOptions::timeout, measured from the call) passes
//     or NCCL reports an error, the communicator is aborted (ncclCommAbort) and AllReduce
//     returns kAborted (exit code 175, retryable) naming the rank(s) that did not reach the
//     collective or whose process is gone, as far as the store knows.
// Buffers are device pointers (uses_device_memory() is true).
//
// Thread-safety: one collective at a time, from any thread (AllReduce selects the device).

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/cuda/cuda_check.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {

class NcclCommunicator : public Communicator {
 public:
  static StatusOr<std::unique_ptr<NcclCommunicator>> Create(Rendezvous& rendezvous,
                                                            const CommunicatorOptions& options);
  // Finalizes within a bounded wait; aborts (ncclCommAbort) after an error or when the
  // finalize does not complete in time. Never blocks for long.
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kNccl; }
  bool uses_device_memory() const override { return true; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;
  Status Barrier() override;

  // A non-blocking stream whose queued work every later AllReduce also waits for (blocking
  // streams and the legacy default stream are always waited for). nullptr: none.
  void set_input_stream(cudaStream_t stream) { input_stream_ = stream; }
  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }

 private:
  NcclCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options);
  // Publishes this rank's GPU, agrees on the unique id through rank 0, starts NCCL.
  Status Init();
  // Polls until NCCL finished the pending (non-blocking) call or the deadline passes.
  Status WaitForNccl(Deadline deadline, const char* what);
  Status AllReduceOnce(void* buffer, size_t count, ncclDataType_t nccl_type, ReduceOp op);
  // Aborts the communicator and keeps `error` as the answer to every later call.
  Status Fail(Status error);
  // kAborted naming, as far as the store tells, the ranks this one waited for in collective
  // number `sequence_`.
  Status PeerFailure(const std::string& what, bool timed_out);

  Rendezvous& rendezvous_;
  CommunicatorOptions options_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
  int64_t sequence_ = 0;  // collectives started on this communicator
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaStream_t input_stream_ = nullptr;
  cudaEvent_t inputs_ready_ = nullptr;
  cudaEvent_t done_ = nullptr;
  void* barrier_token_ = nullptr;
  Status broken_;
};

// Number of visible CUDA devices (0 when there is no driver or no device).
int CudaDeviceCount();

}  // namespace ringleader::runtime
