#pragma once
// The schedule of a ring all-reduce, without any I/O: how a buffer of `count` elements is cut
// into one segment per rank, and which segment each rank sends to rank+1 and receives from
// rank-1 in each of the 2(N-1) steps (N-1 reduce-scatter steps, then N-1 all-gather steps).
//
// In reduce-scatter step k rank r receives segment r-k-1 and adds it into its own copy; after
// the last one (k = N-2) rank r holds the full reduction of segment r+1. In all-gather step k
// it receives a finished segment and overwrites its copy. What a rank sends in step k+1 is
// exactly what it received in step k (step 0 sends its own segment r), which lets the TCP ring
// forward bytes as soon as they are reduced (pipelining; see tcp_ring_communicator.h).
//
// Thread-safety: pure functions.

#include <cstddef>
#include <vector>

namespace ringleader::runtime {

// Elements [begin, begin + count) of the buffer.
struct RingSegment {
  size_t begin = 0;
  size_t count = 0;
  bool operator==(const RingSegment&) const = default;
};

struct RingStep {
  int send_segment = 0;  // sent to rank+1
  int recv_segment = 0;  // received from rank-1
  // true: reduce-scatter, the received data is reduced into recv_segment; false: all-gather,
  // it overwrites recv_segment.
  bool reduce = false;
  // The last reduce-scatter step: after it recv_segment is fully reduced on this rank, so an
  // average divides there (once per element, on one rank).
  bool completes_segment = false;
  bool operator==(const RingStep&) const = default;
};

struct RingSchedule {
  std::vector<RingSegment> segments;  // world segments, in order, covering [0, count)
  std::vector<RingStep> steps;        // 2(world-1) steps; none when world == 1
};

// Segment i has count/world elements, plus one for the first count%world segments (so segments
// may be empty when count < world). Requires 0 <= rank < world.
RingSchedule MakeRingSchedule(int rank, int world, size_t count);

}  // namespace ringleader::runtime
