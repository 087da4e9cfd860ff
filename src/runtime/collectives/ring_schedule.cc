#include "ringleader/runtime/collectives/ring_schedule.h"

namespace ringleader::runtime {

RingSchedule MakeRingSchedule(int rank, int world, size_t count) {
  RingSchedule schedule;
  const size_t n = static_cast<size_t>(world);
  size_t begin = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t segment_count = count / n + (i < count % n ? 1 : 0);
    schedule.segments.push_back({begin, segment_count});
    begin += segment_count;
  }
  auto mod = [world](int x) { return ((x % world) + world) % world; };
  const int steps = 2 * (world - 1);
  for (int k = 0; k < steps; ++k) {
    RingStep step;
    step.reduce = k < world - 1;
    step.completes_segment = k == world - 2;
    step.recv_segment = step.reduce ? mod(rank - k - 1) : mod(rank - (k - world + 1));
    step.send_segment = k == 0 ? rank : schedule.steps.back().recv_segment;
    schedule.steps.push_back(step);
  }
  return schedule;
}

}  // namespace ringleader::runtime
