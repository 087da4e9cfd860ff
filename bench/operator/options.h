#pragma once
// operator_bench's command line (the flags are listed in operator_bench.cc's header) and its one
// way to fail: a message on stderr and exit 1 (a bench that cannot measure has nothing to say).

#include <string>
#include <vector>

#ifndef RINGLEADER_OPERATOR_BINARY
#define RINGLEADER_OPERATOR_BINARY "ringleader-operator"
#endif
#ifndef RINGLEADER_APISERVER_BINARY
#define RINGLEADER_APISERVER_BINARY "ringleader-testapiserver"
#endif
#ifndef RINGLEADER_TRAININGJOB_CRD
#define RINGLEADER_TRAININGJOB_CRD "crds/ringleader.dev_trainingjobs.yaml"
#endif

namespace ringleader::bench {

// Threads the bench submits the jobs cases' TrainingJobs from (like many users at once).
inline constexpr int kSubmitThreads = 16;

struct Options {
  std::string operator_binary = RINGLEADER_OPERATOR_BINARY;
  std::string apiserver_binary = RINGLEADER_APISERVER_BINARY;
  std::string crd = RINGLEADER_TRAININGJOB_CRD;
  int workers = 4;
  double qps = 1000;
  int burst = 2000;
  int gang = 512;
  int jobs = 200;
  int workers_per_job = 8;
  int rss_pods = 10000;
  int queue_jobs = 500;  // --queue-jobs: gangs waiting for capacity in the queue case
  int recovery_workers = 64;  // --recovery-workers: the gang of the recovery case
  int repeat = 3;
  std::vector<int> bare_threads;  // empty: --workers and 4 x --workers
  bool none_rows = true;
  bool keep_logs = false;
  std::vector<std::string> operator_flags;  // --operator-flag: passed on to every operator
  std::string cases = "gang,jobs,bare,floor,rss,queue";  // --cases: a subset, for quick looks
  std::string perf_dir;  // --perf DIR: `perf record -g` the operator and the server per case
  bool simulate_pods = true;
  // The rss case binds and starts the pods itself (MarkPodsRunning) unless --rss-simulator:
  // the simulator's pass over every pod under the store lock makes 10k pods take > 10 min.
  bool rss_simulator = false;  // --no-simulator: pods are never bound (isolates the simulator's cost)
  int timeout_seconds = 300;
  // Fake nodes: pod slots (110 per node) bound how many pods fit; pods request 10m CPU and
  // 16Mi, so --node-cpus 8 holds 110 of them. One node of headroom per 100 pods.
  std::string node_cpus = "8";
};

[[noreturn]] void Die(const std::string& message);

// The options of argv; --help prints the usage and exits 0, a bad flag Dies.
Options ParseFlags(int argc, char** argv);

}  // namespace ringleader::bench
