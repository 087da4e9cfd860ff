#include "measurement.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

namespace ringleader::bench {

CpuMeter::CpuMeter(const Options& options, const std::string& name, pid_t server, pid_t op)
    : server_(server), op_(op) {
  if (!options.perf_dir.empty()) {
    std::filesystem::create_directories(options.perf_dir);
    Profile(&server_perf_, options.perf_dir + "/" + name + "-apiserver.perf", server_);
    if (op_ > 0) Profile(&op_perf_, options.perf_dir + "/" + name + "-operator.perf", op_);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // perf attaches
  }
  server_start_ = CpuSeconds(server_);
  op_start_ = op_ > 0 ? CpuSeconds(op_) : 0;
}

void CpuMeter::End(Measurement* m) {
  m->server_cpu = CpuSeconds(server_) - server_start_;
  m->operator_cpu = op_ > 0 ? CpuSeconds(op_) - op_start_ : 0;
  server_perf_.Stop(std::chrono::seconds(30), SIGINT);
  op_perf_.Stop(std::chrono::seconds(30), SIGINT);
}

void CpuMeter::Profile(ChildProcess* perf, const std::string& out, pid_t pid) {
  std::vector<std::string> argv = {"/usr/bin/perf", "record", "--call-graph", "dwarf,16384", "-F", "1999", "-o", out,
                                   "-p", std::to_string(pid)};
  if (!perf->Start(argv, out + ".log", /*stdout_pipe=*/false)) Die("cannot start perf");
}

void WaitForPods(PodCreationWatch& watch, size_t pods, const Options& options, const Cluster& cluster,
                 const char* what) {
  if (!watch.WaitFor(pods, std::chrono::seconds(options.timeout_seconds))) {
    Die(std::string(what) + ": only " + std::to_string(watch.Count()) + " of " + std::to_string(pods) +
        " pods were created within " + std::to_string(options.timeout_seconds) + " s; logs in " + cluster.dir() +
        " (--keep-logs keeps them)");
  }
}

Measurement MedianOf(const Options& options, const std::function<Measurement()>& once, std::string* spread) {
  std::vector<Measurement> runs;
  for (int i = 0; i < options.repeat; ++i) runs.push_back(once());
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.seconds < b.seconds; });
  char text[96];
  std::snprintf(text, sizeof(text), "%.3f..%.3f", runs.front().seconds, runs.back().seconds);
  *spread = text;
  return runs[runs.size() / 2];
}

}  // namespace ringleader::bench
