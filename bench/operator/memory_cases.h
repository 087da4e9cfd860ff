#pragma once
// operator_bench's memory and idle-cost cases: rss (the operator's VmRSS idle, with --rss-pods
// pods cached, and restarted against them) and queue (its CPU while gangs wait for capacity).

#include "measurement.h"
#include "options.h"
#include "processes.h"

namespace ringleader::bench {

struct RssResult {
  int nodes = 0;
  int jobs = 0;
  ProcessMemory idle;
  ProcessMemory loaded;
  // A fresh operator started once the pods exist (an upgrade or a rescheduled operator pod in
  // a big cluster): its first list decodes every pod, which sets its peak (VmHWM).
  ProcessMemory restarted;
  double restart_seconds = 0;  // from its start to synced and quiet
  bool restarted_quiet = false;
  Measurement creation;  // the rss-pods as a throughput sample (informational)
  bool quiet = false;
};

// The queue case: --queue-jobs Builtin gangs that do not fit wait for capacity (each one is
// checked again every --admission-retry, 5 s, and every check walks the older waiting ones).
// What the operator spends while nothing changes.
struct QueueResult {
  int nodes = 0;
  double seconds = 0;
  double operator_cpu = 0;
  double reconciles = 0;
};

QueueResult RunQueue(const Options& options);

RssResult RunRss(const Options& options);

}  // namespace ringleader::bench
