#pragma once
// Communicator: the collective interface the trainer and GradientAverager use. Backends:
//   tcp  - bandwidth-optimal ring all-reduce over TCP between neighbours (any hosts)
//   shm  - same-host shared-memory all-reduce (all ranks on one host; used by `auto`)
//   mpi  - MPI_Allreduce (jobs launched with mpirun; compiled when MPI is found)
//   nccl - ncclAllReduce on GPUs (compiled when CUDA and NCCL are found)
//   auto - nccl when every rank has a GPU (agreed at rendezvous), else shm when every rank
//          is on one host, else tcp.
// Failure contract: no call waits forever. When a peer dies or stops responding, AllReduce
// returns kAborted within the collective timeout, with a message naming the rank(s); the
// program then exits kExitPeerFailed (175). A communicator is unusable after an error.
//
// Thread-safety: one thread at a time per communicator (collectives are ordered calls).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "ringleader/common/status.h"
#include "ringleader/runtime/dtype.h"

namespace ringleader::runtime {

enum class Backend { kAuto, kNccl, kTcp, kShm, kMpi };
StatusOr<Backend> ParseBackend(std::string_view name);
const char* BackendName(Backend backend);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual Backend backend() const = 0;
  // True when AllReduce expects device (GPU) pointers.
  virtual bool uses_device_memory() const { return false; }
  // In-place all-reduce of `count` elements of `type`. With kAverage the sum is divided by
  // size() (integers truncate).
  virtual Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) = 0;
  // Blocks until every rank reached the barrier (an all-reduce of one int32 by default).
  virtual Status Barrier();
};

class Rendezvous;

struct CommunicatorOptions {
  Backend backend = Backend::kAuto;
  // Longest a collective waits for a peer before declaring it failed.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // Shared-memory staging per rank (bytes). Small enough that the N staging slots stay in
  // cache, big enough to amortise the two barriers per chunk: 256-512 KiB measured best
  // (4 ranks, 2 cores; 4 MiB was 2-3x slower at 1-4 MiB messages).
  size_t shm_chunk_bytes = 512u << 10;
  // Shared-memory barrier spin before sleeping, in microseconds; -1 = chosen from ranks vs
  // usable CPUs (ChooseShmWaitPolicy). For measurements and unusual hosts.
  int shm_spin_us = -1;
};

// Creates the communicator chosen by options.backend over a joined rendezvous. The
// rendezvous must outlive the communicator.
StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(Rendezvous& rendezvous,
                                                           const CommunicatorOptions& options);

// True when this binary was built with the backend.
bool BackendCompiledIn(Backend backend);

}  // namespace ringleader::runtime
