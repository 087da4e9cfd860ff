// The shm backend's single-copy all-reduce (shm_communicator.h explains when it runs): ranks
// publish their buffers, whichever ranks are running claim chunks, read every rank's chunk
// with process_vm_readv, reduce it in rank order and write the result into every rank's
// buffer with process_vm_writev.
#include <sys/prctl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "ringleader/runtime/collectives/dtype.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "shm_segment.h"

namespace ringleader::runtime {

namespace {

// Peer chunks held at once are (ranks - 1) x the chunk: at most this much scratch per rank.
constexpr size_t kMaxPeerChunksBytes = 4u << 20;
constexpr size_t kMinChunkBytes = 4096;

size_t RoundUp(size_t x, size_t a) { return (x + a - 1) / a * a; }

// Copies `bytes` between this process's `local` and `remote` in process `pid`; 0 or an errno.
int CrossMemoryCopy(int pid, char* local, uint64_t remote, size_t bytes, bool to_remote) {
  while (bytes > 0) {
    iovec here{local, bytes};
    iovec there{reinterpret_cast<void*>(remote), bytes};
    const ssize_t moved = to_remote ? process_vm_writev(pid, &here, 1, &there, 1, 0)
                                    : process_vm_readv(pid, &here, 1, &there, 1, 0);
    if (moved < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (moved == 0) return EFAULT;
    local += moved;
    remote += static_cast<uint64_t>(moved);
    bytes -= static_cast<size_t>(moved);
  }
  return 0;
}

bool YamaAllowsOnlyAncestors() {
  std::ifstream file("/proc/sys/kernel/yama/ptrace_scope");
  int scope = 0;
  return (file >> scope) && scope == 1;
}

}  // namespace

Status ShmCommunicator::ChooseSingleCopy() {
  ShmHeader& h = *header_;
  // Yama's scope 1 lets a process read only its descendants' memory, and the ranks are
  // siblings (children of one launcher, or of the bench). Declaring "any process may" is
  // the opt-in Yama offers; the other ranks of the job run as the same user in the same
  // container, and nothing else is granted (scope 2 and 3 still refuse, and then we stage).
  if (YamaAllowsOnlyAncestors()) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  RETURN_IF_ERROR(WaitBarrier());  // every rank has opted in before any peer probes it
  std::string failure;
  for (int r = 0; r < size_ && failure.empty(); ++r) {
    if (r == rank_) continue;
    uint64_t seen = 0;
    const int err = CrossMemoryCopy(h.pids[r], reinterpret_cast<char*>(&seen), h.probe_addresses[r], sizeof seen,
                                    /*to_remote=*/false);
    if (err != 0) {
      failure = "rank " + std::to_string(rank_) + " cannot read rank " + std::to_string(r) +
                "'s memory (process_vm_readv: " + std::strerror(err) + ")";
    } else if (seen != probe_word_) {
      failure = "rank " + std::to_string(r) + "'s probe read back wrong (not one pid namespace?)";
    }
  }
  h.can_read_peers[rank_].store(failure.empty() ? 1 : 2, std::memory_order_relaxed);
  RETURN_IF_ERROR(WaitBarrier());
  for (int r = 0; r < size_ && failure.empty(); ++r) {
    if (h.can_read_peers[r].load(std::memory_order_relaxed) != 1) {
      failure = "rank " + std::to_string(r) + " cannot read its peers' memory";
    }
  }
  single_copy_ = failure.empty();
  if (!single_copy_) {
    single_copy_unavailable_ = failure + "; staging through the shared segment instead";
    return Status::Ok();
  }
  const size_t per_peer = kMaxPeerChunksBytes / static_cast<size_t>(size_ - 1) / kMinChunkBytes * kMinChunkBytes;
  single_copy_chunk_bytes_ =
      std::max(kMinChunkBytes, std::min(RoundUp(options_.shm_single_copy_chunk_bytes, kMinChunkBytes), per_peer));
  peer_chunks_.resize(static_cast<size_t>(size_ - 1) * single_copy_chunk_bytes_);
  chunk_sources_.resize(static_cast<size_t>(size_));
  return Status::Ok();
}

void ShmCommunicator::WakeAll(std::atomic<uint32_t>& word) {
  // The store before this and a sleeper's count-then-FUTEX_WAIT are both seq_cst: either we
  // see the sleeper or it sees the new value (as in WaitBarrier).
  if (header_->sleepers.load(std::memory_order_seq_cst) > 0) {
    ++stats_.wakes;
    Futex(&word, FUTEX_WAKE, INT32_MAX, nullptr);
  }
}

Status ShmCommunicator::ReduceChunkFromEveryRank(char* data, size_t offset, size_t bytes, size_t count,
                                                 DataType type, int divisor, int parity) {
  ShmHeader& h = *header_;
  std::vector<const void*>& sources = chunk_sources_;
  size_t next_scratch = 0;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) {
      sources[r] = data + offset;
      continue;
    }
    char* chunk = peer_chunks_.data() + next_scratch++ * single_copy_chunk_bytes_;
    if (int err = CrossMemoryCopy(h.pids[r], chunk, h.buffers[parity][r] + offset, bytes, false); err != 0) {
      return Break(err == ESRCH ? r : rank_,
                   "reading rank " + std::to_string(r) + "'s buffer failed: " + std::strerror(err));
    }
    sources[r] = chunk;
  }
  // In rank order, as the staged path and the TCP ring sum: the same bits on every path.
  ReduceSources(data + offset, sources.data(), size_, count, type, divisor);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    if (int err = CrossMemoryCopy(h.pids[r], data + offset, h.buffers[parity][r] + offset, bytes, true); err != 0) {
      return Break(err == ESRCH ? r : rank_,
                   "writing rank " + std::to_string(r) + "'s result failed: " + std::strerror(err));
    }
  }
  return Status::Ok();
}

Status ShmCommunicator::AllReduceSingleCopy(void* buffer, size_t count, DataType type, ReduceOp op) {
  ShmHeader& h = *header_;
  const uint32_t call = ++single_copy_calls_;
  const int parity = static_cast<int>(call & 1);
  SingleCopyCall& this_call = h.calls[parity];
  const size_t esize = DataTypeSize(type);
  const size_t bytes = count * esize;
  // At least one chunk per rank where 4 KiB chunks allow it, so every running rank finds work.
  const size_t per_rank = RoundUp((bytes + size_ - 1) / size_, kMinChunkBytes);
  const size_t chunk = std::max(kMinChunkBytes, std::min(single_copy_chunk_bytes_, per_rank));
  const uint32_t chunks = static_cast<uint32_t>((bytes + chunk - 1) / chunk);
  const int divisor = op == ReduceOp::kAverage ? size_ : 1;
  char* data = static_cast<char*>(buffer);
  stats_.chunks += chunks;
  stats_.barriers += 2;
  auto wait_started = Clock::now();
  auto count_wait = [&] {
    stats_.barrier_wait_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - wait_started).count());
  };

  // 1. Publish the buffer. The last rank to arrive clears the other set of counters (the
  // next call's: every rank has left the previous call, or it could not have arrived here).
  h.buffers[parity][rank_] = reinterpret_cast<uintptr_t>(buffer);
  h.arrived_call[rank_].store(call, std::memory_order_relaxed);
  if (this_call.arrived.fetch_add(1, std::memory_order_acq_rel) == static_cast<uint32_t>(size_ - 1)) {
    ++stats_.last_arrivals;
    SingleCopyCall& next_call = h.calls[parity ^ 1];
    next_call.arrived.store(0, std::memory_order_relaxed);
    next_call.next_chunk.store(0, std::memory_order_relaxed);
    next_call.done_chunks.store(0, std::memory_order_relaxed);
    h.published_call.store(call, std::memory_order_seq_cst);
    WakeAll(h.published_call);
  } else {
    Status published = WaitForChange(h.published_call, call - 1, "shared-memory all-reduce", [&h, call](int r) {
      return h.arrived_call[r].load(std::memory_order_relaxed) == call;
    });
    count_wait();
    RETURN_IF_ERROR(published);
  }

  // 2. Claim chunks until none is left; the rank that finishes the last one says so.
  for (;;) {
    const uint32_t k = this_call.next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (k >= chunks) break;
    const size_t offset = static_cast<size_t>(k) * chunk;
    const size_t len = std::min(chunk, bytes - offset);
    RETURN_IF_ERROR(ReduceChunkFromEveryRank(data, offset, len, len / esize, type, divisor, parity));
    if (this_call.done_chunks.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
      h.finished_call.store(call, std::memory_order_seq_cst);
      WakeAll(h.finished_call);
    }
  }

  // 3. Wait until every chunk (this rank's buffer included) holds the result.
  if (h.finished_call.load(std::memory_order_acquire) != call) {
    wait_started = Clock::now();
    Status finished =
        WaitForChange(h.finished_call, call - 1, "shared-memory all-reduce", [](int) { return true; });
    count_wait();
    RETURN_IF_ERROR(finished);
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime
