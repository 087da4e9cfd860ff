#pragma once
// The `mpi` backend: MPI_Allreduce on MPI_COMM_WORLD, for jobs started by mpirun (which does
// its own rendezvous, so no Rendezvous is needed). Compiled only when MPI is found
// (RINGLEADER_HAVE_MPI). fp16/bf16 use a user-defined MPI_Op with the same per-element
// rounding as the other CPU backends; averages are MPI_SUM followed by a division.
// Failure behaviour is MPI's: with the default MPI_ERRORS_ARE_FATAL a dead peer makes mpirun
// abort the whole job. A hung peer is not MPI's concern, so a watchdog thread bounds every
// collective by `timeout`: past it the rank logs what it waited in and exits with the
// retryable kExitPeerFailed (MPI offers no way to cancel a collective or to name the late
// peer, and MPI_Abort may itself block on the hung rank).
//
// Thread-safety: MPI is initialised with MPI_THREAD_SERIALIZED (Create fails with
// kInvalidArgument when the library provides less, or when MPI was already initialised with
// less): calls may come from any thread, one at a time (GradientAverager's overlap thread and
// the training thread take turns).

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "ringleader/runtime/collectives/communicator.h"

namespace ringleader::runtime {

class MpiCommunicator : public Communicator {
 public:
  // Initialises MPI if needed (finalised at exit by the destructor of the last instance).
  static StatusOr<std::unique_ptr<MpiCommunicator>> Create(
      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kMpi; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;
  Status Barrier() override;

 private:
  MpiCommunicator() = default;
  // Arms the watchdog for one collective; Disarm when it returned.
  void Arm(const char* what, size_t count);
  void Disarm();
  void Watch();

  int rank_ = 0;
  int size_ = 1;
  bool owns_init_ = false;
  std::chrono::milliseconds timeout_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool armed_ = false;
  const char* what_ = "";
  size_t count_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  std::thread watchdog_;
};

}  // namespace ringleader::runtime
