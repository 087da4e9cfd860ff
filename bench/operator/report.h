#pragma once
// operator_bench's results: what each selected case measured (Results, filled by
// operator_bench.cc's driver) and its output — the table, the memory and queue lines, the
// per-case breakdowns from the operator's metrics, the targets and the `RESULT` lines.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "measurement.h"
#include "memory_cases.h"
#include "options.h"

namespace ringleader::bench {

// One --bare-threads count's bare-client run.
struct BareRun {
  int threads;
  Measurement m;
  std::string spread;
};

// Everything the selected cases measured; a case not selected is empty. `*_spread`: "min..max"
// seconds over the repeats (MedianOf).
struct Results {
  std::map<std::string, Measurement> gang, jobs;  // by gang.scheduler
  std::map<std::string, std::string> gang_spread, jobs_spread;
  std::vector<BareRun> bare_runs;
  std::optional<Measurement> bare;  // the fastest: the ceiling
  int floor_threads = 0;
  std::optional<Measurement> floor_writes, floor_watch;
  std::string floor_writes_spread, floor_watch_spread;
  std::optional<RssResult> rss;
  std::optional<QueueResult> queue;
  std::optional<Measurement> recovery_pod, recovery_node, gang_default_flags;
  std::string recovery_pod_spread, recovery_node_spread, gang_default_spread;
};

// Writes the API server took during the interval, per pod created, by verb and resource.
void PrintServerWrites(const char* label, const Measurement& m);

// Where the operator's time went, from its own metrics.
void PrintBreakdown(const char* label, const Measurement& m);

// The whole report after the measurements.
void PrintReport(const Options& options, Results& r);

}  // namespace ringleader::bench
