// The shm backend's reduce by the last arrival (shm_communicator.h says when it runs): every
// rank copies its buffer into its input slot; the last rank to arrive reduces every slot in
// rank order into the result slot (the same bits as the other paths) and wakes the others,
// who slept once; each rank copies the result out. Calls alternate between two sets of slots:
// a rank arrives at call s+2 only after call s+1 completed, which needed every rank to have
// arrived at s+1, i.e. to have finished copying call s's result out, so nobody still reads
// a set that is written again.
#include <cstring>

#include "ringleader/runtime/collectives/dtype.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#include "shm_segment.h"

namespace ringleader::runtime {

// Index 0..n-1: the ranks' inputs; index n: the result.
char* ShmCommunicator::LastArrivalSlot(int parity, int index) const {
  return last_arrival_slots_ + (static_cast<size_t>(parity) * (size_ + 1) + static_cast<size_t>(index)) * chunk_bytes_;
}

Status ShmCommunicator::AllReduceByLastArrival(void* buffer, size_t count, DataType type, ReduceOp op) {
  ShmHeader& h = *header_;
  const uint32_t call = ++last_arrival_calls_;
  const int parity = static_cast<int>(call & 1);
  const size_t bytes = count * DataTypeSize(type);
  ++stats_.chunks;
  ++stats_.barriers;
  std::memcpy(LastArrivalSlot(parity, rank_), buffer, bytes);
  h.last_arrival_call[rank_].store(call, std::memory_order_relaxed);
  const auto arrived_at = Clock::now();
  if (h.last_arrival_arrived[parity].fetch_add(1, std::memory_order_acq_rel) == static_cast<uint32_t>(size_ - 1)) {
    ++stats_.last_arrivals;
    // Every rank has left the previous call (it arrived here), so its counter can be reset.
    h.last_arrival_arrived[parity].store(0, std::memory_order_relaxed);
    for (int r = 0; r < size_; ++r) last_arrival_sources_[r] = LastArrivalSlot(parity, r);
    ReduceSources(LastArrivalSlot(parity, size_), last_arrival_sources_.data(), size_, count, type,
                  op == ReduceOp::kAverage ? size_ : 1);
    h.last_arrival_done_call.store(call, std::memory_order_seq_cst);
    WakeAll(h.last_arrival_done_call);
  } else {
    Status done = WaitForChange(h.last_arrival_done_call, call - 1, "shared-memory all-reduce", [&h, call](int r) {
      return h.last_arrival_call[r].load(std::memory_order_relaxed) == call;
    });
    stats_.barrier_wait_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - arrived_at).count());
    RETURN_IF_ERROR(done);
  }
  std::memcpy(buffer, LastArrivalSlot(parity, size_), bytes);
  return Status::Ok();
}

}  // namespace ringleader::runtime
