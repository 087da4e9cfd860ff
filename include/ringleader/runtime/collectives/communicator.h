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
#include "ringleader/runtime/collectives/dtype.h"

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
  // Shared-memory staging per rank (bytes). Small enough that a rank's staging traffic
  // between two barriers (about 3 chunks) stays in its core's L2, big enough to amortise the
  // barrier per chunk: 256 KiB measured best of 128 KiB-2 MiB (2 and 4 ranks on 2 cores with
  // 2 MiB L2 each; docs/performance.md).
  size_t shm_chunk_bytes = 256u << 10;
  // Shared-memory barriers busy-poll this long before sleeping on a futex (microseconds).
  // < 0 (default): learned from the rank's own waits, up to 100 us, and never with more
  // ranks than online CPUs (adaptive_spin.h): a core per rank on an idle host gains at small
  // messages, a shared or oversubscribed one keeps sleeping at once. 0: always sleep at once;
  // > 0: always spin this long (docs/performance.md).
  int shm_spin_us = -1;
  // The tcp ring's waits for its neighbours' bytes busy-poll the sockets this long before
  // sleeping in poll() (microseconds), learned the same way as shm_spin_us (< 0, default;
  // never with more ranks on this host than online CPUs). It pays where a neighbour answers
  // within microseconds (a core per rank, a fast network): a poll() sleep and wake-up costs
  // tens of microseconds on a VM, which is most of a 64 KiB call. 0: never; > 0: always.
  int tcp_spin_us = -1;
  // The shm backend reads its peers' buffers and writes the results into them directly
  // (process_vm_readv/writev, "cross memory attach") when every rank can, so that whichever
  // ranks have a core do the work and the others only publish their buffers; otherwise (the
  // kernel, a seccomp profile or Yama refuses, or false here) it stages through the segment.
  bool shm_single_copy = true;
  // Calls smaller than this stage even when single copy is available: below it the two
  // synchronisations and ~2(n-1) system calls per chunk cost more than the staged barriers
  // (64 KiB at 4 ranks on 2 cores measured slower; docs/performance.md).
  size_t shm_single_copy_min_bytes = 256u << 10;
  // The piece of a call one rank reads from every peer, reduces and writes back (single copy).
  // A rank holds (ranks - 1) of them at once, capped at 4 MiB in all.
  size_t shm_single_copy_chunk_bytes = 256u << 10;
  // Calls that fit one staging chunk (and are below shm_single_copy_min_bytes) are reduced
  // by the last rank to arrive, while the others sleep once until the result is there
  // (shm_last_arrival.cc): one synchronisation per call instead of two, which pays when ranks
  // must share cores. -1 (default): when there are more ranks than online CPUs; 0: never;
  // 1: always.
  int shm_reduce_by_last_arrival = -1;
  // This process's rank on its host (WorkerEnv::local_rank): picks its GPU for nccl
  // (ChooseCudaDevice in gpu_setup.h). Ignored by the CPU backends.
  int local_rank = 0;
};

// Creates the communicator chosen by options.backend over a joined rendezvous. The
// rendezvous must outlive the communicator.
StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(Rendezvous& rendezvous,
                                                           const CommunicatorOptions& options);

// True when this binary was built with the backend.
bool BackendCompiledIn(Backend backend);

}  // namespace ringleader::runtime
