// operator_bench: how fast ringleader-operator turns TrainingJobs into pods, against the
// ceiling of a bare client creating the same pods, and how much memory it holds.
//
// Every case starts a fresh ringleader-testapiserver (with the pod simulator and enough fake
// nodes for every pod) and, except the bare-client case, a fresh ringleader-operator, both as
// child processes on 127.0.0.1:
//   gang      one TrainingJob of --gang workers: seconds from its create to the last pod created
//   jobs      --jobs TrainingJobs of --workers-per-job created at once (from 16 threads):
//             pods/s from the first job create to the last pod created
//   bare      the same pods (BuildWorkerPod of the same jobs, created beforehand with no operator)
//             created by one kube::HttpClient from --bare-threads threads with the operator's
//             --qps/--burst, not decoding the answers (as the operator does not). The ceiling is the fastest of the thread counts tried (default:
//             the operator's --workers and 4x that, since each reconcile sends up to 4 of an
//             8-worker job's creates at once), so the ratio is not flattered by a slow peer
//   floor     a scripted client (no operator) making, per job, only the writes the issue
//             requires before the last pod exists (TrainingJob, Service, pods, a status write,
//             an Event), at the ceiling's thread count; once alone and once also keeping the
//             operator's pod and job caches. Its ratio bounds what any operator can reach here
//   rss       operator VmRSS when synced with no jobs, and after --rss-pods pods of
//             --workers-per-job-sized jobs exist and the operator is quiet; then of a fresh
//             operator started against those pods, once it is quiet (VmHWM: its first list)
//   queue     --queue-jobs gangs that fit no node wait for capacity: the operator's CPU over
//             10 s of that steady state (each is re-checked every 5 s, and each check walks
//             the older waiting gangs)
//   recovery  (only when named in --cases) a --recovery-workers gang (64) Running over 8-pod
//             nodes and a spare; one worker fails (exit 137), and separately its node dies
//             (POST /testing/kill-node): seconds from the failure to every pod of the next
//             attempt Running, with the simulator's default delays and the operator's default
//             --restart-backoff. Then one --gang gang with the operator's default --qps/--burst:
//             seconds from its create to the last pod created
// "Created" is when the API server committed the pod, seen by a byte-scanning watch (see
// pod_watch.h for why that distorts least). gang and jobs run with gang.scheduler Builtin (the
// default, what users get) and None. The last lines are `RESULT name=value`.
//
//   operator_bench [--workers 4] [--qps 1000] [--burst 2000] [--gang 512] [--jobs 200]
//     [--workers-per-job 8] [--rss-pods 10000] [--repeat 3] [--bare-threads 4,16] [--no-none]
//     [--cases gang,jobs,bare,floor,rss,queue] [--queue-jobs 500] [--no-simulator] [--perf DIR] [--timeout-seconds S]
//     [--operator PATH] [--apiserver PATH] [--crd PATH] [--operator-flag FLAG]... [--keep-logs]
// --no-simulator runs the server without --simulate-pods (pods are never bound or run), to see
// the operator without the fake scheduler and kubelets' writes.
// --perf DIR records `perf record --call-graph dwarf` of the operator and the server over each
// measured interval.
//
// Files: options (flags), cluster (the server and operator children), workload (the
// TrainingJobs), measurement (an interval, CPU meter, median of repeats), creation_cases (gang,
// jobs, bare, floor), memory_cases (rss, queue), recovery_case, report (table, targets, RESULT).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "creation_cases.h"
#include "measurement.h"
#include "memory_cases.h"
#include "options.h"
#include "recovery_case.h"
#include "report.h"

using namespace ringleader::bench;

namespace {

// Runs the cases --cases names (each repeated --repeat times where it is a throughput).
Results RunSelectedCases(const Options& options) {
  auto selected = [&](const char* name) { return options.cases.find(name) != std::string::npos; };
  Results r;
  std::vector<std::string> schedulers = {"Builtin"};
  if (options.none_rows) schedulers.push_back("None");
  for (const std::string& scheduler : schedulers) {
    if (selected("gang")) {
      r.gang[scheduler] = MedianOf(options, [&] { return RunGang(options, scheduler); }, &r.gang_spread[scheduler]);
    }
    if (selected("jobs")) {
      r.jobs[scheduler] = MedianOf(options, [&] { return RunJobs(options, scheduler); }, &r.jobs_spread[scheduler]);
    }
  }
  if (selected("bare")) {
    for (int threads : options.bare_threads) {
      BareRun run{threads, {}, {}};
      run.m = MedianOf(options, [&] { return RunBare(options, threads); }, &run.spread);
      if (!r.bare || run.m.PodsPerSecond() > r.bare->PodsPerSecond()) r.bare = run.m;
      r.bare_runs.push_back(std::move(run));
    }
  }
  // The floor runs at the ceiling's thread count, so the two differ only in the work done.
  r.floor_threads = r.bare_runs.empty()
                        ? options.workers
                        : std::max_element(r.bare_runs.begin(), r.bare_runs.end(), [](const auto& a, const auto& b) {
                            return a.m.PodsPerSecond() < b.m.PodsPerSecond();
                          })->threads;
  if (selected("floor")) {
    r.floor_writes = MedianOf(options, [&] { return RunFloor(options, r.floor_threads, false); }, &r.floor_writes_spread);
    r.floor_watch = MedianOf(options, [&] { return RunFloor(options, r.floor_threads, true); }, &r.floor_watch_spread);
  }
  if (selected("rss")) r.rss = RunRss(options);
  if (selected("queue")) r.queue = RunQueue(options);
  if (selected("recovery")) {
    r.recovery_pod = MedianOf(options, [&] { return RunRecovery(options, false); }, &r.recovery_pod_spread);
    r.recovery_node = MedianOf(options, [&] { return RunRecovery(options, true); }, &r.recovery_node_spread);
    r.gang_default_flags = MedianOf(options, [&] { return RunGang(options, "Builtin", true); }, &r.gang_default_spread);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseFlags(argc, argv);
  for (const std::string* path : {&options.operator_binary, &options.apiserver_binary, &options.crd}) {
    if (!std::filesystem::exists(*path)) Die(*path + " does not exist (see --operator, --apiserver, --crd)");
  }
  const int pods = options.jobs * options.workers_per_job;
  std::string thread_counts;
  for (int t : options.bare_threads) thread_counts += (thread_counts.empty() ? "" : ",") + std::to_string(t);
  std::printf("# operator_bench: operator --workers %d --qps %g --burst %d; bare client %s threads (fastest is the "
              "ceiling), same qps/burst\n",
              options.workers, options.qps, options.burst, thread_counts.c_str());
  std::printf("# gang %d workers; %d jobs x %d workers = %d pods; rss %d pods; median of %d runs; %u CPUs; "
              "pod simulator %s\n",
              options.gang, options.jobs, options.workers_per_job, pods, options.rss_pods, options.repeat,
              std::thread::hardware_concurrency(), options.simulate_pods ? "on" : "off");
  std::fflush(stdout);
  Results results = RunSelectedCases(options);
  PrintReport(options, results);
  return 0;
}
