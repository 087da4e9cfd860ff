#pragma once
// Same-host shared-memory all-reduce (the `shm` backend; `auto` picks it when every rank is on
// one host). TCP over loopback costs two kernel copies per hop plus syscalls; here each rank
// copies its chunk into a shared staging slot once, reduces its 1/N slice of the chunk across
// all slots (reading every source once, writing once) and copies the reduced slices back:
// about 2 copies + 1 read of the buffer per rank, whatever N is.
//
// One barrier per chunk: three slot sets rotate, and between two barriers a rank copies out
// chunk k-1, reduces its slice of chunk k and copies in chunk k+1 (a C-chunk call costs C+1
// barriers, not 2C). Each barrier is a point where every rank must have run, so with more ranks
// than cores, or other processes on the cores, it costs context switches; halving their number
// is what keeps the path fast when the scheduler is busy. A rank that waits spins only as long
// as its recent waits say it pays (adaptive_spin.h; never with more ranks than CPUs), then
// sleeps on a futex (no sched_yield): under contention a rank that spins burns the CPU share
// the scheduler would otherwise give it for its work (docs/performance.md, "Why it varied"). Every wait is bounded by the collective timeout and checks the peers' pids, so a dead peer
// is reported within ~50 ms.
//
// Single copy (the default where the kernel allows it; shm_single_copy.cc): each rank only
// publishes its buffer's address; the chunks of the call are then claimed one at a time by
// whichever ranks are running, which read every rank's chunk with process_vm_readv, reduce
// it in rank order (the same bits as the staged path) and write the result into every rank's
// buffer with process_vm_writev. Two synchronisations per call (all published, all reduced)
// instead of one per chunk, and no rank waits for a peer that has no core: the staged path
// above, with ranks outnumbering cores, spends most of its time asleep at barriers
// (docs/performance.md). Whether every rank may read every peer is probed at Create; if one
// may not (Yama ptrace_scope, a seccomp profile without process_vm_readv), all stage.
//
// Reduce by the last arrival: a call that fits one staging chunk, with more ranks than cores,
// costs one synchronisation: each rank copies its buffer into its slot and the last to arrive
// reduces all slots in rank order into a result slot while the others sleep once; each then
// copies the result out (shm_last_arrival.cc).
//
// Thread-safety: one collective at a time.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ringleader/runtime/collectives/adaptive_spin.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {

struct ShmHeader;

// Counters of one rank's ShmCommunicator since Create, always on (two clock reads per
// barrier). The bench prints them per call; docs/performance.md explains what they showed.
struct ShmStats {
  uint64_t collectives = 0;      // AllReduce calls that moved data
  uint64_t chunks = 0;           // staging chunks
  uint64_t barriers = 0;         // barriers passed (AllReduce's and Barrier()'s)
  uint64_t barrier_wait_ns = 0;  // time from arriving at a barrier to leaving it
  uint64_t last_arrivals = 0;    // barriers this rank completed (it arrived last)
  uint64_t spin_exits = 0;       // barriers that completed while this rank spun
  uint64_t sleeps = 0;           // futex waits this rank made (each may block)
  uint64_t wakes = 0;            // FUTEX_WAKE calls (the last arrival, when someone slept)
};

class ShmCommunicator : public Communicator {
 public:
  static StatusOr<std::unique_ptr<ShmCommunicator>> Create(Rendezvous& rendezvous,
                                                           const CommunicatorOptions& options);
  ~ShmCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kShm; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;
  Status Barrier() override;

  const ShmStats& stats() const { return stats_; }
  // Whether calls take the single-copy path, and if not, why (empty when they do or when
  // CommunicatorOptions::shm_single_copy was false).
  bool single_copy() const { return single_copy_; }
  const std::string& single_copy_unavailable() const { return single_copy_unavailable_; }

 private:
  ShmCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options);
  Status WaitBarrier();
  Status WaitForGeneration(uint32_t gen);
  // Sleeps until `word` is no longer `value`; checks the peers every 50 ms and gives up at
  // the collective timeout naming the ranks for which `arrived` is false.
  Status WaitForChange(std::atomic<uint32_t>& word, uint32_t value, const char* what,
                       const std::function<bool(int)>& arrived);
  // WaitForChange's futex part, after any spinning.
  Status SleepUntilChange(std::atomic<uint32_t>& word, uint32_t value, const char* what,
                          const std::function<bool(int)>& arrived);
  // Records that rank `failed` broke the collective and wakes every waiting peer.
  Status Break(int failed, const std::string& message);
  // Single copy (shm_single_copy.cc).
  Status ChooseSingleCopy();
  Status AllReduceSingleCopy(void* buffer, size_t count, DataType type, ReduceOp op);
  Status ReduceChunkFromEveryRank(char* data, size_t offset, size_t bytes, size_t count, DataType type, int divisor,
                                  int parity);
  void WakeAll(std::atomic<uint32_t>& word);
  // Reduce by the last arrival (shm_last_arrival.cc).
  Status AllReduceByLastArrival(void* buffer, size_t count, DataType type, ReduceOp op);
  char* LastArrivalSlot(int parity, int index) const;
  // Returns a dead peer's rank or -1.
  int FindDeadPeer() const;
  char* Slot(uint64_t chunk_seq, int rank) const;

  Rendezvous& rendezvous_;
  CommunicatorOptions options_;
  // How long to busy-poll before sleeping at a barrier (CommunicatorOptions::shm_spin_us).
  SpinPolicy spin_;
  int rank_ = 0;
  int size_ = 1;
  size_t chunk_bytes_ = 0;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  ShmHeader* header_ = nullptr;
  char* slots_ = nullptr;
  // Chunks staged since Create, on every rank alike: chunk s uses slot set s % 3, which is
  // what keeps back-to-back calls from overwriting a set a peer still copies out of.
  uint64_t chunk_seq_ = 0;
  ShmStats stats_;
  Status broken_;
  bool single_copy_ = false;
  std::string single_copy_unavailable_;
  // What a peer's probe reads from this process (its address is in the segment).
  uint64_t probe_word_ = 0x52494e474c454144;  // "RINGLEAD"
  uint32_t single_copy_calls_ = 0;
  bool reduce_by_last_arrival_ = false;
  uint32_t last_arrival_calls_ = 0;
  char* last_arrival_slots_ = nullptr;  // 2 parities x (n inputs + 1 result), chunk_bytes_ each
  std::vector<const void*> last_arrival_sources_;
  size_t single_copy_chunk_bytes_ = 0;
  std::vector<char> peer_chunks_;  // (n - 1) chunks read from the peers
  std::vector<const void*> chunk_sources_;  // every rank's copy of the chunk being reduced
};

}  // namespace ringleader::runtime
