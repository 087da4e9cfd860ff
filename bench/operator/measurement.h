#pragma once
// One measured interval of operator_bench: pods made, wall and CPU seconds, the operator's
// metrics and the server's request counts after it; how it is timed (CpuMeter, the pod watch)
// and repeated (MedianOf).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "cluster.h"
#include "metrics_scrape.h"
#include "options.h"
#include "pod_watch.h"
#include "processes.h"

namespace ringleader::bench {

using SteadyClock = std::chrono::steady_clock;

inline double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Measurement {
  int pods = 0;
  double seconds = 0;
  double operator_cpu = 0;  // CPU seconds during the measured interval
  double server_cpu = 0;
  double submit_seconds = 0;  // jobs cases: until the bench's last TrainingJob create returned
  Scrape metrics;           // operator metrics after the interval (empty for the bare client)
  // What the API server was asked during the interval ("create pods": N), from its request log.
  std::map<std::string, int> server_requests;
  double PodsPerSecond() const { return seconds > 0 ? pods / seconds : 0; }
};

// CPU seconds of the server and the operator from construction to End(); with --perf, a
// `perf record` of each over the same interval.
class CpuMeter {
 public:
  CpuMeter(const Options& options, const std::string& name, pid_t server, pid_t op);
  void End(Measurement* m);

 private:
  static void Profile(ChildProcess* perf, const std::string& out, pid_t pid);
  pid_t server_, op_;
  double server_start_ = 0, op_start_ = 0;
  ChildProcess server_perf_, op_perf_;
};

// Waits (--timeout-seconds) until `watch` saw `pods` pods created; Dies naming `what` if not.
void WaitForPods(PodCreationWatch& watch, size_t pods, const Options& options, const Cluster& cluster,
                 const char* what);

// Runs `once` options.repeat times and keeps the run with the median time; `spread` gets
// "min..max" of the seconds.
Measurement MedianOf(const Options& options, const std::function<Measurement()>& once, std::string* spread);

}  // namespace ringleader::bench
