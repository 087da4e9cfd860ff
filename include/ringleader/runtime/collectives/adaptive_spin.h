#pragma once
// How long a backend busy-polls before it sleeps (shm: on a futex; tcp ring: in poll()),
// learned from its own waits (CommunicatorOptions::shm_spin_us / tcp_spin_us < 0, the default).
//
// Spinning pays only where the peer that must arrive is running on another core: then the
// wait is short (the peers' skew plus a few microseconds) and a futex sleep would add its own
// wake-up latency (tens of microseconds on a VM). Where ranks share cores, or a competing load
// takes them, the peer is not running, the wait is long, and a spinning rank only keeps the
// peer off the core. So the budget follows the waits: a moving average of each wait that was
// shorter than the cap, where a longer wait counts as zero. Every wait is measured, spun or
// slept, so the budget grows back from zero once waits turn short again. It is never used
// with more ranks than online CPUs (ranks then must share cores).
//
// Thread-safety: a value type; each rank owns its own.

#include <algorithm>
#include <chrono>

namespace ringleader::runtime {

class AdaptiveSpin {
 public:
  // Longest a rank ever spins; also the longest wait that counts as "short".
  static constexpr std::chrono::nanoseconds kCap = std::chrono::microseconds(100);

  // How long to spin before the next sleep: twice the average short wait, at most kCap.
  std::chrono::nanoseconds Budget() const { return std::min(kCap, 2 * average_); }
  // Learns from one completed wait (spin and sleep together). A spin that ran out its budget
  // says the peer is not running now (its core is taken): spinning starts over from zero.
  void Observe(std::chrono::nanoseconds waited, bool spun_out) {
    if (spun_out) {
      average_ = std::chrono::nanoseconds(0);
      return;
    }
    const std::chrono::nanoseconds sample = waited <= kCap ? waited : std::chrono::nanoseconds(0);
    average_ = (3 * average_ + sample) / 4;
  }

 private:
  std::chrono::nanoseconds average_{0};
};

// A backend's spin before each sleep, from its option (shm_spin_us / tcp_spin_us): > 0 a fixed
// budget, 0 none, < 0 learned by AdaptiveSpin — but only while the ranks sharing this host's
// CPUs have a core each (ranks_here <= online_cpus); with more, none.
class SpinPolicy {
 public:
  SpinPolicy() = default;
  SpinPolicy(int spin_us, long ranks_here, long online_cpus)
      : adaptive_(spin_us < 0 && ranks_here <= online_cpus),
        fixed_(std::chrono::microseconds(std::max(0, spin_us))) {}

  std::chrono::nanoseconds Budget() const { return adaptive_ ? learned_.Budget() : fixed_; }
  // Learns from one completed wait when the budget is learned; a fixed budget ignores it.
  void Observe(std::chrono::nanoseconds waited, bool spun_out) {
    if (adaptive_) learned_.Observe(waited, spun_out);
  }

 private:
  bool adaptive_ = false;
  std::chrono::nanoseconds fixed_{0};
  AdaptiveSpin learned_;
};

}  // namespace ringleader::runtime
