#pragma once
// The machine allreduce_bench measures on: the memcpy ceiling, competing load (--busy-loops)
// and the load average each repeat starts under.

#include <sys/types.h>

#include <string>
#include <vector>

namespace ringleader::allreduce_bench {

// memcpy bandwidth of one 64 MiB buffer, GB/s (best of 10, pages faulted in first).
double MemcpyBandwidth();

// "0.52 0.58 0.59" from /proc/loadavg, or "?".
std::string LoadAverage();

// Busy-looping processes (competing load), killed when this object goes. Not copyable.
class BusyLoops {
 public:
  explicit BusyLoops(int count);
  ~BusyLoops();
  BusyLoops(const BusyLoops&) = delete;
  BusyLoops& operator=(const BusyLoops&) = delete;

 private:
  std::vector<pid_t> pids_;
};

}  // namespace ringleader::allreduce_bench
