#pragma once
// The shared segment's header of the shm backend (private to shm_communicator.cc and
// shm_single_copy.cc): barrier words, the ranks' pids, and the words of the single-copy
// all-reduce.
//
// Thread-safety: every field is shared between processes; the atomics are the protocol.

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace ringleader::runtime {

inline constexpr int kMaxShmRanks = 256;

// The single-copy all-reduce's counters for one call; calls alternate between two sets so
// that the last rank to arrive at call s can clear the set call s+1 will use.
struct alignas(64) SingleCopyCall {
  std::atomic<uint32_t> arrived;      // ranks that published their buffer for this call
  std::atomic<uint32_t> next_chunk;   // the next chunk a rank may claim
  std::atomic<uint32_t> done_chunks;  // chunks reduced and written back to every rank
};

struct alignas(64) ShmHeader {
  std::atomic<uint32_t> arrived;     // ranks in the current barrier
  std::atomic<uint32_t> generation;  // futex word, bumped when a barrier completes
  std::atomic<uint32_t> sleepers;    // ranks that may be in FUTEX_WAIT (wake only if > 0)
  std::atomic<int32_t> failed_rank;  // -1, or a rank some peer saw die
  int32_t world_size;
  uint64_t chunk_bytes;
  int32_t pids[kMaxShmRanks];
  // Generation each rank last arrived in, to name the ranks a timed-out barrier waits for.
  std::atomic<uint32_t> arrived_in[kMaxShmRanks];

  // Single copy (shm_single_copy.cc). Futex words: the last call whose buffers were all
  // published, and the last call whose chunks were all reduced.
  std::atomic<uint32_t> published_call;
  std::atomic<uint32_t> finished_call;
  SingleCopyCall calls[2];
  // Per rank: the address of its buffer in the call of parity p, the last call it arrived
  // in, the address of its probe word, and whether it could read every peer's (1) or not (2).
  uint64_t buffers[2][kMaxShmRanks];
  std::atomic<uint32_t> arrived_call[kMaxShmRanks];
  uint64_t probe_addresses[kMaxShmRanks];
  std::atomic<int32_t> can_read_peers[kMaxShmRanks];

  // Reduce by the last arrival (shm_last_arrival.cc): ranks that arrived in the call of
  // parity p, the last call whose result is in its result slot (futex word), and the last
  // call each rank arrived in.
  std::atomic<uint32_t> last_arrival_arrived[2];
  std::atomic<uint32_t> last_arrival_done_call;
  std::atomic<uint32_t> last_arrival_call[kMaxShmRanks];
};

inline long Futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

}  // namespace ringleader::runtime
