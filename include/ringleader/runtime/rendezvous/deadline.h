#pragma once
// Deadlines: every blocking call of the runtime takes one, so nothing waits forever. A
// deadline is a point on the steady clock (immune to wall-clock jumps).
//
// Thread-safety: pure functions of the clock.

#include <chrono>

namespace ringleader::runtime {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline DeadlineAfter(std::chrono::milliseconds timeout) { return Clock::now() + timeout; }
// Milliseconds left until the deadline, clamped to [0, INT_MAX] for poll().
int MillisUntil(Deadline deadline);

}  // namespace ringleader::runtime
