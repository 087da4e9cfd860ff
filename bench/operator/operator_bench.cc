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

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pod_watch.h"
#include "processes.h"
#include "ringleader/api/codec.h"
#include "ringleader/api/resources.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/api/validation.h"
#include "ringleader/common/metrics.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"
#include "ringleader/controller/cache_fields.h"
#include "ringleader/controller/trainingjob_reconciler.h"
#include "ringleader/kube/config.h"
#include "ringleader/kube/event_recorder.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/informer.h"
#include "ringleader/kube/resource.h"

#ifndef RINGLEADER_OPERATOR_BINARY
#define RINGLEADER_OPERATOR_BINARY "ringleader-operator"
#endif
#ifndef RINGLEADER_APISERVER_BINARY
#define RINGLEADER_APISERVER_BINARY "ringleader-testapiserver"
#endif
#ifndef RINGLEADER_TRAININGJOB_CRD
#define RINGLEADER_TRAININGJOB_CRD "crds/ringleader.dev_trainingjobs.yaml"
#endif

using namespace ringleader;
using namespace ringleader::bench;
using kube::Json;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Threads the bench submits the jobs cases' TrainingJobs from (like many users at once).
constexpr int kSubmitThreads = 16;

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

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "operator_bench: %s\n", message.c_str());
  std::exit(1);
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Json TrainingJobObject(const std::string& name, int workers, const std::string& scheduler,
                       const std::string& cpu = "10m") {
  Json container = {{"name", "trainer"},
                    {"image", "ringleader/worker:bench"},
                    {"command", Json::array({"ringleader-worker", "train"})},
                    {"resources", {{"requests", {{"cpu", cpu}, {"memory", "16Mi"}}}}}};
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"workers", workers},
            {"gang", {{"scheduler", scheduler}}},
            {"template", {{"spec", {{"containers", Json::array({container})}}}}}}}};
}

std::unique_ptr<kube::HttpClient> NewClient(kube::RestConfig config, double qps, int burst,
                                            metrics::Registry* registry, int max_retries = 5) {
  config.qps = qps;
  config.burst = burst;
  config.user_agent = "operator_bench";
  kube::HttpClientOptions options;
  options.registry = registry;
  options.max_retries = max_retries;
  options.connect_timeout = std::chrono::seconds(2);
  options.request_timeout = std::chrono::seconds(30);
  auto client = kube::HttpClient::Create(std::move(config), options);
  if (!client.ok()) Die("client: " + client.status().ToString());
  return std::move(client).value();
}

// Prometheus text → {"name{labels}": value}.
using Scrape = std::map<std::string, double>;

Scrape ParseMetrics(const std::string& text) {
  Scrape out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

// Sum of every series of `name` (exactly that metric) whose labels contain `label_part`.
double Sum(const Scrape& scrape, const std::string& name, const std::string& label_part = "") {
  double total = 0;
  for (const auto& [series, value] : scrape) {
    if (series.compare(0, name.size(), name) != 0) continue;
    if (series.size() > name.size() && series[name.size()] != '{') continue;
    if (!label_part.empty() && series.find(label_part) == std::string::npos) continue;
    total += value;
  }
  return total;
}

// One fresh test API server, optionally with an operator, in its own temp dir.
class Cluster {
 public:
  Cluster(const Options& options, std::string name) : options_(options), name_(std::move(name)) {
    dir_ = std::filesystem::temp_directory_path() /
           ("rl-operator-bench-" + std::to_string(::getpid()) + "-" + name_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~Cluster() {
    operator_.Stop();
    server_.Stop();
    if (!options_.keep_logs) std::filesystem::remove_all(dir_);
  }

  // `nodes` 0: one per 100 pods, plus one. `node_cpus` "": --node-cpus.
  void StartServer(int pods, bool simulate, int nodes = 0, const std::string& node_cpus = "") {
    if (nodes == 0) nodes = pods / 100 + 1;
    std::string kubeconfig = (dir_ / "kubeconfig").string();
    std::vector<std::string> argv = {options_.apiserver_binary, "--listen", "127.0.0.1:0",
                                     "--kubeconfig-out", kubeconfig, "--crd", options_.crd,
                                     "--nodes", std::to_string(nodes),
                                     "--node-cpus", node_cpus.empty() ? options_.node_cpus : node_cpus,
                                     // Room for every event of the largest case (create, ungate,
                                     // bind, run, status per pod), so no watch ever gets a 410.
                                     "--watch-history", std::to_string(std::max(10000, pods * 8))};
    if (simulate) argv.push_back("--simulate-pods");
    if (!server_.Start(argv, (dir_ / "apiserver.log").string(), /*stdout_pipe=*/true) ||
        !server_.WaitForLine("ready", std::chrono::seconds(20))) {
      Die("the test API server did not start; see " + (dir_ / "apiserver.log").string() +
          " (--keep-logs keeps it)");
    }
    auto config = kube::LoadKubeconfig({kubeconfig, ""});
    if (!config.ok()) Die("kubeconfig: " + config.status().ToString());
    config_ = *config;
    server_port_ = std::atoi(config_.server.substr(config_.server.rfind(':') + 1).c_str());
    client_ = NewClient(config_, 0, 1, &registry_);
    nodes_ = nodes;
  }

  // `default_flags`: the operator as users start it (no --workers, --qps, --burst or
  // --operator-flag).
  void StartOperator(bool default_flags = false) {
    metrics_port_ = FreeLocalPort();
    std::vector<std::string> argv = {options_.operator_binary,
                                     "--kubeconfig", (dir_ / "kubeconfig").string(),
                                     "--leader-elect=false",
                                     "--metrics-addr", "127.0.0.1:" + std::to_string(metrics_port_)};
    if (!default_flags) {
      for (const std::string& flag : {std::string("--workers"), std::to_string(options_.workers),
                                      std::string("--qps"), std::to_string(options_.qps), std::string("--burst"),
                                      std::to_string(options_.burst)}) {
        argv.push_back(flag);
      }
      argv.insert(argv.end(), options_.operator_flags.begin(), options_.operator_flags.end());
    }
    if (!operator_.Start(argv, (dir_ / "operator.log").string(), /*stdout_pipe=*/false)) {
      Die("cannot start " + options_.operator_binary);
    }
    kube::RestConfig metrics_config;
    metrics_config.server = "http://127.0.0.1:" + std::to_string(metrics_port_);
    metrics_client_ = NewClient(metrics_config, 0, 1, &registry_, /*max_retries=*/0);
    auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (true) {
      auto ready = metrics_client_->Raw("GET", "/readyz");
      if (ready.ok()) break;
      if (!operator_.Running() || SteadyClock::now() > deadline) {
        Die("the operator did not become ready (caches synced); see " +
            (dir_ / "operator.log").string() + " (--keep-logs keeps it)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // SIGTERM (graceful shutdown), then a fresh operator against the same server.
  void RestartOperator() {
    operator_.Stop(std::chrono::seconds(10), SIGTERM);
    StartOperator();
  }

  Scrape ScrapeOperator() {
    auto response = metrics_client_->Raw("GET", "/metrics");
    if (!response.ok()) Die("operator /metrics: " + response.status().ToString());
    return ParseMetrics(response->body);
  }

  // Waits until the operator has nothing left to do: an empty queue, `jobs` jobs in `phase`,
  // and no reconcile or API request for one second.
  bool WaitQuiet(int jobs, const std::string& phase, std::chrono::seconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    double last_activity = -1;
    int stable = 0;
    double depth = 0, in_phase = 0;
    while (SteadyClock::now() < deadline) {
      Scrape s = ScrapeOperator();
      double activity = Sum(s, "ringleader_reconcile_total") + Sum(s, "ringleader_api_requests_total");
      depth = Sum(s, "ringleader_workqueue_depth");
      in_phase = Sum(s, "ringleader_trainingjobs", "phase=\"" + phase + "\"");
      bool settled = depth == 0 && in_phase == jobs;
      stable = settled && activity == last_activity ? stable + 1 : 0;
      if (stable >= 2) return true;
      last_activity = activity;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::printf("# operator not quiet after %lld s: queue depth %.0f, %.0f of %d jobs %s\n",
                static_cast<long long>(timeout.count()), depth, in_phase, jobs, phase.c_str());
    return false;
  }

  // The test server's request log (docs/testing.md): cleared before an interval, counted after.
  void ClearRequestLog() {
    auto cleared = client_->Raw("DELETE", "/testing/requests");
    if (!cleared.ok()) Die("DELETE /testing/requests: " + cleared.status().ToString());
  }
  std::map<std::string, int> RequestCounts() {
    auto log = client_->Raw("GET", "/testing/requests");
    if (!log.ok()) Die("GET /testing/requests: " + log.status().ToString());
    std::map<std::string, int> counts;
    Json doc = Json::parse(log->body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("counts") && doc["counts"].is_object()) {
      for (auto it = doc["counts"].begin(); it != doc["counts"].end(); ++it) {
        if (it.value().is_number()) counts[it.key()] = it.value().get<int>();
      }
    }
    return counts;
  }

  Json CreateJob(const Json& job) {
    auto created = client_->Create(kube::TrainingJobsResource(), "default", job);
    if (!created.ok()) Die("create TrainingJob: " + created.status().ToString());
    return std::move(created).value();
  }

  // "Created at once": from `threads` threads (one thread took 0.3 s of a 1 s run to submit
  // 200 jobs, which measured the bench, not the operator).
  void CreateJobsConcurrently(const std::vector<Json>& jobs, int threads) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> submitters;
    for (int t = 0; t < std::max(1, threads); ++t) {
      submitters.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < jobs.size();) CreateJob(jobs[i]);
      });
    }
    for (auto& t : submitters) t.join();
  }

  kube::HttpClient& client() { return *client_; }
  const kube::RestConfig& config() const { return config_; }
  int server_port() const { return server_port_; }
  int nodes() const { return nodes_; }
  pid_t operator_pid() const { return operator_.pid(); }
  pid_t server_pid() const { return server_.pid(); }
  metrics::Registry& registry() { return registry_; }
  std::string dir() const { return dir_.string(); }

 private:
  const Options& options_;
  std::string name_;
  std::filesystem::path dir_;
  ChildProcess server_, operator_;
  kube::RestConfig config_;
  int server_port_ = 0, metrics_port_ = 0, nodes_ = 0;
  metrics::Registry registry_;
  std::unique_ptr<kube::HttpClient> client_, metrics_client_;
};

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
  CpuMeter(const Options& options, const std::string& name, pid_t server, pid_t op) : server_(server), op_(op) {
    if (!options.perf_dir.empty()) {
      std::filesystem::create_directories(options.perf_dir);
      Profile(&server_perf_, options.perf_dir + "/" + name + "-apiserver.perf", server_);
      if (op_ > 0) Profile(&op_perf_, options.perf_dir + "/" + name + "-operator.perf", op_);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // perf attaches
    }
    server_start_ = CpuSeconds(server_);
    op_start_ = op_ > 0 ? CpuSeconds(op_) : 0;
  }
  void End(Measurement* m) {
    m->server_cpu = CpuSeconds(server_) - server_start_;
    m->operator_cpu = op_ > 0 ? CpuSeconds(op_) - op_start_ : 0;
    server_perf_.Stop(std::chrono::seconds(30), SIGINT);
    op_perf_.Stop(std::chrono::seconds(30), SIGINT);
  }

 private:
  static void Profile(ChildProcess* perf, const std::string& out, pid_t pid) {
    std::vector<std::string> argv = {"/usr/bin/perf", "record", "--call-graph", "dwarf,16384", "-F", "1999", "-o", out,
                                     "-p", std::to_string(pid)};
    if (!perf->Start(argv, out + ".log", /*stdout_pipe=*/false)) Die("cannot start perf");
  }
  pid_t server_, op_;
  double server_start_ = 0, op_start_ = 0;
  ChildProcess server_perf_, op_perf_;
};

void WaitForPods(PodCreationWatch& watch, size_t pods, const Options& options, const Cluster& cluster,
                 const char* what) {
  if (!watch.WaitFor(pods, std::chrono::seconds(options.timeout_seconds))) {
    Die(std::string(what) + ": only " + std::to_string(watch.Count()) + " of " + std::to_string(pods) +
        " pods were created within " + std::to_string(options.timeout_seconds) + " s; logs in " + cluster.dir() +
        " (--keep-logs keeps them)");
  }
}

Measurement RunGang(const Options& options, const std::string& scheduler, bool default_flags = false) {
  Cluster cluster(options, "gang-" + scheduler + (default_flags ? "-default-flags" : ""));
  cluster.StartServer(options.gang, options.simulate_pods);
  cluster.StartOperator(default_flags);
  std::string name = "gang";
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), std::string(controller::kJobNameLabel) + "=" + name)) {
    Die("cannot watch pods");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let start-up work settle
  Json job = TrainingJobObject(name, options.gang, scheduler);
  Measurement m;
  m.pods = options.gang;
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "gang-" + scheduler, cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  cluster.CreateJob(job);
  WaitForPods(watch, options.gang, options, cluster, "gang");
  m.seconds = Seconds(watch.TimeOf(options.gang) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  m.metrics = cluster.ScrapeOperator();
  return m;
}

std::vector<Json> JobObjects(const Options& options, const std::string& scheduler, int pods,
                             const std::string& prefix) {
  std::vector<Json> jobs;
  for (int i = 0; pods > 0; ++i) {
    int workers = std::min(pods, options.workers_per_job);
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05d", prefix.c_str(), i);
    jobs.push_back(TrainingJobObject(name, workers, scheduler));
    pods -= workers;
  }
  return jobs;
}

Measurement RunJobs(const Options& options, const std::string& scheduler) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, "jobs-" + scheduler);
  cluster.StartServer(pods, options.simulate_pods);
  cluster.StartOperator();
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<Json> jobs = JobObjects(options, scheduler, pods, "job");
  Measurement m;
  m.pods = pods;
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "jobs-" + scheduler, cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  cluster.CreateJobsConcurrently(jobs, kSubmitThreads);
  m.submit_seconds = Seconds(SteadyClock::now() - start);
  WaitForPods(watch, pods, options, cluster, "jobs");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  m.metrics = cluster.ScrapeOperator();
  return m;
}

// The ceiling: the operator's pods, created by a bare client with the operator's concurrency
// and rate limit, on a server in the same state (the jobs exist; no operator runs).
Measurement RunBare(const Options& options, int threads) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, "bare");
  cluster.StartServer(pods, options.simulate_pods);
  std::vector<Json> bodies;
  for (const Json& object : JobObjects(options, "Builtin", pods, "job")) {
    auto job = api::ParseTrainingJob(cluster.CreateJob(object));
    if (!job.ok()) Die("parse TrainingJob: " + job.status().ToString());
    for (int rank = 0; rank < job->spec.workers; ++rank) {
      bodies.push_back(controller::BuildWorkerPod(*job, rank, 0));
    }
  }
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto client = NewClient(cluster.config(), options.qps, options.burst, &cluster.registry());
  Measurement m;
  m.pods = pods;
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  // The client column is this process: the creating threads (and the byte-scanning watch).
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "bare", cluster.server_pid(), ::getpid());
  auto start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < bodies.size();) {
        if (!client->Create(kube::PodsResource(), "default", bodies[i], kube::Answer::kOutcomeOnly).ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures.load() > 0) Die("bare client: " + std::to_string(failures.load()) + " pod creates failed");
  WaitForPods(watch, pods, options, cluster, "bare client");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  return m;
}

// The floor under any operator: a scripted client that does only what the issue requires
// before a job's last pod exists, and nothing to decide it. From `threads` threads, each job in
// turn: create the TrainingJob (the user's write, inside the interval as in the jobs case), its
// Service and its pods (gated, as BuildWorkerPod makes them), one status write and one Event.
// With `watch`, it also keeps the operator's two informers (pods compact and trimmed, jobs
// trimmed) in this process: an operator must see the pods it made and the jobs it is given.
// Its pods/s over the bare client's is the highest ratio an operator can reach on this machine.
Measurement RunFloor(const Options& options, int threads, bool watch_caches) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, watch_caches ? "floor-watch" : "floor");
  cluster.StartServer(pods, options.simulate_pods);
  std::vector<Json> jobs = JobObjects(options, "Builtin", pods, "job");
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  auto client = NewClient(cluster.config(), options.qps, options.burst, &cluster.registry());
  std::vector<std::unique_ptr<kube::Informer>> informers;
  if (watch_caches) {
    kube::InformerOptions pod_cache;
    pod_cache.gvr = kube::PodsResource();
    pod_cache.transform = controller::TrimPodForCache;
    pod_cache.decode_mask = controller::PodCacheMask();
    pod_cache.compact = true;
    kube::InformerOptions job_cache;
    job_cache.gvr = kube::TrainingJobsResource();
    job_cache.transform = controller::TrimTrainingJobForCache;
    for (kube::InformerOptions* o : {&pod_cache, &job_cache}) {
      informers.push_back(std::make_unique<kube::Informer>(*client, *o));
      informers.back()->Start();
      if (!informers.back()->WaitForSync(SteadyClock::now() + std::chrono::seconds(10))) Die("floor: informer sync");
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kube::EventRecorder events(*client);
  Measurement m;
  m.pods = pods;
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  cluster.ClearRequestLog();
  CpuMeter cpu(options, watch_caches ? "floor-watch" : "floor", cluster.server_pid(), ::getpid());
  auto start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
        auto created = client->Create(kube::TrainingJobsResource(), "default", jobs[i]);
        auto job = created.ok() ? api::ParseTrainingJob(*created) : StatusOr<api::TrainingJob>(created.status());
        if (!job.ok()) {
          failures.fetch_add(1);
          continue;
        }
        if (!client->Create(kube::ServicesResource(), "default", controller::BuildService(*job), kube::Answer::kOutcomeOnly)
                 .ok()) {
          failures.fetch_add(1);
        }
        for (int rank = 0; rank < job->spec.workers; ++rank) {
          if (!client->Create(kube::PodsResource(), "default", controller::BuildWorkerPod(*job, rank, 0),
                              kube::Answer::kOutcomeOnly)
                   .ok()) {
            failures.fetch_add(1);
          }
        }
        api::TrainingJobStatus status;
        status.phase = api::JobPhase::kScheduling;
        status.ready = "0/" + std::to_string(job->spec.workers);
        status.message = "gang admitted";
        status.observed_generation = job->metadata.generation;
        status.conditions.push_back({"Admitted", "True", "GangAdmitted", "the gang fits",
                                     FormatRfc3339(std::chrono::system_clock::now()), job->metadata.generation});
        Json updated = *created;
        updated["status"] = api::EncodeStatus(status);
        if (!client->UpdateStatus(kube::TrainingJobsResource(), "default", updated, kube::Answer::kOutcomeOnly).ok()) {
          failures.fetch_add(1);
        }
        events.Record(*created, kube::kEventTypeNormal, "GangAdmitted", "the gang fits");
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures.load() > 0) Die("floor client: " + std::to_string(failures.load()) + " writes failed");
  WaitForPods(watch, pods, options, cluster, "floor client");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  return m;
}

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

// The scheduler's and the kubelet's part, once, for pods the simulator is not running: bind each
// pod (spec.nodeName, 100 per node) and write the Running status the simulator would write.
void MarkPodsRunning(Cluster& cluster, const std::vector<Json>& jobs, int threads) {
  struct PodRef {
    std::string name;
    std::string node;
  };
  std::vector<PodRef> pods;
  for (const Json& job : jobs) {
    std::string name = job["metadata"]["name"];
    for (int rank = 0; rank < job["spec"]["workers"].get<int>(); ++rank) {
      pods.push_back({name + "-worker-" + std::to_string(rank), "node-" + std::to_string(pods.size() / 100)});
    }
  }
  auto client = NewClient(cluster.config(), 0, 1, &cluster.registry());
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < pods.size();) {
        const PodRef& pod = pods[i];
        const std::string now = "2026-01-01T00:00:00Z";
        std::string ip = "10.244." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250 + 1);
        Json condition = {{"status", "True"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
        Json conditions = Json::array();
        for (const char* type : {"PodScheduled", "Initialized", "ContainersReady", "Ready"}) {
          Json c = condition;
          c["type"] = type;
          conditions.push_back(c);
        }
        Json status = {
            {"phase", "Running"},
            {"podIP", ip},
            {"podIPs", Json::array({{{"ip", ip}}})},
            {"hostIP", "10.0.0.1"},
            {"hostIPs", Json::array({{{"ip", "10.0.0.1"}}})},
            {"startTime", now},
            {"conditions", conditions},
            {"containerStatuses",
             Json::array({{{"name", "trainer"},
                           {"image", "ringleader/worker:bench"},
                           {"imageID", "sim://ringleader/worker:bench"},
                           {"containerID", "sim://" + pod.name + "/trainer"},
                           {"ready", true},
                           {"started", true},
                           {"restartCount", 0},
                           {"state", {{"running", {{"startedAt", now}}}}}}})}};
        bool ok = client->Patch(kube::PodsResource(), "default", pod.name, kube::PatchType::kMerge,
                                {{"spec", {{"nodeName", pod.node}}}})
                      .ok() &&
                  client->Patch(kube::PodsResource(), "default", pod.name, kube::PatchType::kMerge,
                                {{"status", status}}, "status")
                      .ok();
        if (!ok) failures.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures.load() > 0) Die("marking pods Running: " + std::to_string(failures.load()) + " pods failed");
}

// The queue case: --queue-jobs Builtin gangs that do not fit wait for capacity (each one is
// checked again every --admission-retry, 5 s, and every check walks the older waiting ones).
// What the operator spends while nothing changes.
struct QueueResult {
  int nodes = 0;
  double seconds = 0;
  double operator_cpu = 0;
  double reconciles = 0;
};

QueueResult RunQueue(const Options& options) {
  QueueResult r;
  Cluster cluster(options, "queue");
  cluster.StartServer(5000, options.simulate_pods);  // 51 fake nodes of --node-cpus each
  r.nodes = cluster.nodes();
  cluster.StartOperator();
  std::vector<Json> jobs;
  for (int i = 0; i < options.queue_jobs; ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "queued-%05d", i);
    jobs.push_back(TrainingJobObject(name, options.workers_per_job, "Builtin", "1000"));  // fits no node
  }
  cluster.CreateJobsConcurrently(jobs, kSubmitThreads);
  // Every job checked and told it waits, then more than one retry period of steady state.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  double before = Sum(cluster.ScrapeOperator(), "ringleader_reconcile_total");
  Measurement m;
  CpuMeter cpu(options, "queue", cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  r.seconds = Seconds(SteadyClock::now() - start);
  cpu.End(&m);
  r.operator_cpu = m.operator_cpu;
  r.reconciles = Sum(cluster.ScrapeOperator(), "ringleader_reconcile_total") - before;
  return r;
}

RssResult RunRss(const Options& options) {
  RssResult r;
  Cluster cluster(options, "rss");
  cluster.StartServer(options.rss_pods, options.rss_simulator);
  r.nodes = cluster.nodes();
  cluster.StartOperator();
  cluster.WaitQuiet(0, "Running", std::chrono::seconds(30));
  r.idle = ReadMemory(cluster.operator_pid());

  std::vector<Json> jobs = JobObjects(options, "Builtin", options.rss_pods, "rss");
  r.jobs = static_cast<int>(jobs.size());
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "rss", cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  cluster.CreateJobsConcurrently(jobs, kSubmitThreads);
  WaitForPods(watch, options.rss_pods, options, cluster, "rss");
  r.creation.pods = options.rss_pods;
  r.creation.seconds = Seconds(watch.TimeOf(options.rss_pods) - start);
  cpu.End(&r.creation);
  r.creation.server_requests = cluster.RequestCounts();
  const auto timeout = std::chrono::seconds(options.timeout_seconds);
  if (!options.rss_simulator) {
    // Every gang released (ungated); then do what the scheduler and the kubelets would.
    cluster.WaitQuiet(r.jobs, "Scheduling", timeout);
    MarkPodsRunning(cluster, jobs, options.workers);
  }
  r.quiet = cluster.WaitQuiet(r.jobs, "Running", timeout);
  r.creation.metrics = cluster.ScrapeOperator();
  r.loaded = ReadMemory(cluster.operator_pid());
  auto restart = SteadyClock::now();
  cluster.RestartOperator();
  r.restarted_quiet = cluster.WaitQuiet(r.jobs, "Running", timeout);
  r.restart_seconds = Seconds(SteadyClock::now() - restart);
  r.restarted = ReadMemory(cluster.operator_pid());
  return r;
}

// Writes the API server took during the interval, per pod created, by verb and resource.
void PrintServerWrites(const char* label, const Measurement& m) {
  std::vector<std::pair<int, std::string>> writes;
  int total = 0;
  for (const auto& [what, count] : m.server_requests) {
    std::string verb = what.substr(0, what.find(' '));
    if (verb != "create" && verb != "update" && verb != "patch" && verb != "delete") continue;
    writes.push_back({count, what});
    total += count;
  }
  std::sort(writes.rbegin(), writes.rend());
  std::string detail;
  for (const auto& [count, what] : writes) detail += (detail.empty() ? "" : ", ") + what + " " + std::to_string(count);
  std::printf("# %-22s server writes %d = %.2f per pod (%s)\n", label, total, m.pods ? double(total) / m.pods : 0.0,
              detail.c_str());
}

// Where the operator's time went, from its own metrics.
void PrintBreakdown(const char* label, const Measurement& m) {
  PrintServerWrites(label, m);
  const Scrape& s = m.metrics;
  auto mean_ms = [&](const std::string& name, const std::string& labels) {
    double count = Sum(s, name + "_count", labels);
    return count > 0 ? 1000 * Sum(s, name + "_sum", labels) / count : 0.0;
  };
  std::printf("# %-22s operator cpu %.2f s, server cpu %.2f s over %.2f s wall; reconciles %.0f (mean %.1f ms); "
              "API create %.0f (mean %.2f ms), patch %.0f (%.2f ms), update %.0f (%.2f ms), list %.0f; "
              "non-2xx %.0f\n",
              label, m.operator_cpu, m.server_cpu, m.seconds, Sum(s, "ringleader_reconcile_total"),
              mean_ms("ringleader_reconcile_duration_seconds", ""),
              Sum(s, "ringleader_api_requests_total", "verb=\"create\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"create\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"patch\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"patch\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"update\""),
              mean_ms("ringleader_api_request_duration_seconds", "verb=\"update\""),
              Sum(s, "ringleader_api_requests_total", "verb=\"list\""),
              Sum(s, "ringleader_api_requests_total") - Sum(s, "ringleader_api_requests_total", "code=\"2"));
  for (const auto& [series, value] : s) {
    if (series.rfind("ringleader_api_requests_total{", 0) == 0 && series.find("code=\"2") == std::string::npos) {
      std::printf("#   %s %.0f\n", series.c_str() + std::strlen("ringleader_api_requests_total"), value);
    }
  }
  if (m.submit_seconds > 0) {
    std::printf("# %-22s the bench's TrainingJob creates took %.2f s of the %.2f s\n", label, m.submit_seconds, m.seconds);
  }
}

// Pods of `job` in `attempt` that are Running and not being deleted.
int RunningPodsOf(kube::HttpClient& client, const std::string& job, int attempt) {
  kube::ListOptions list;
  list.label_selector = std::string(controller::kJobNameLabel) + "=" + job + "," + controller::kAttemptLabel + "=" +
                        std::to_string(attempt);
  auto pods = client.List(kube::PodsResource(), "default", list);
  if (!pods.ok()) Die("list pods: " + pods.status().ToString());
  int running = 0;
  for (const Json& pod : (*pods)["items"]) {
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    if (pod.contains("status") && pod["status"].value("phase", "") == "Running") ++running;
  }
  return running;
}

// Polls (every 10 ms) until `count` pods of the attempt run; the time it first saw them.
SteadyClock::time_point WaitRunning(Cluster& cluster, const std::string& job, int attempt, int count,
                                    const Options& options, const char* what) {
  auto deadline = SteadyClock::now() + std::chrono::seconds(options.timeout_seconds);
  while (SteadyClock::now() < deadline) {
    if (RunningPodsOf(cluster.client(), job, attempt) >= count) return SteadyClock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Die(std::string(what) + ": attempt " + std::to_string(attempt) + " did not have " + std::to_string(count) +
      " pods Running within " + std::to_string(options.timeout_seconds) + " s; logs in " + cluster.dir() +
      " (--keep-logs keeps them)");
}

// The recovery case: a gang Running on the simulator (8 pods per node, one spare node), then
// worker 3 fails with exit 137 (`node_loss` false; the status a kubelet writes) or its node's
// kubelet dies (`node_loss`). Seconds from that to every pod of attempt 1 Running. Operator
// with its default restart backoff and flags but --workers/--qps/--burst (as the gang case).
Measurement RunRecovery(const Options& options, bool node_loss) {
  const int workers = options.recovery_workers;
  const int per_node = 8;
  const int nodes = (workers + per_node - 1) / per_node + 1;
  Cluster cluster(options, node_loss ? "recovery-node" : "recovery-pod");
  // 10m CPU per pod: 80m holds 8 of them.
  cluster.StartServer(workers, /*simulate=*/true, nodes, std::to_string(per_node * 10) + "m");
  cluster.StartOperator();
  const std::string name = "recover";
  cluster.CreateJob(TrainingJobObject(name, workers, "Builtin"));
  WaitRunning(cluster, name, 0, workers, options, "recovery");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the job's status settles (Running)
  const std::string victim = name + "-worker-3";
  auto pod = cluster.client().Get(kube::PodsResource(), "default", victim);
  if (!pod.ok()) Die("get " + victim + ": " + pod.status().ToString());
  const std::string node = (*pod)["spec"].value("nodeName", "");
  Measurement m;
  m.pods = workers;
  CpuMeter cpu(options, node_loss ? "recovery-node" : "recovery-pod", cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  if (node_loss) {
    auto killed = cluster.client().Raw("POST", "/testing/kill-node", Json{{"name", node}}.dump());
    if (!killed.ok()) Die("kill node " + node + ": " + killed.status().ToString());
  } else {
    std::string now = FormatRfc3339(std::chrono::system_clock::now());
    Json status = {{"status",
                    {{"phase", "Failed"},
                     {"containerStatuses",
                      Json::array({{{"name", "trainer"},
                                    {"ready", false},
                                    {"restartCount", 0},
                                    {"image", "ringleader/worker:bench"},
                                    {"imageID", ""},
                                    {"state",
                                     {{"terminated",
                                       {{"exitCode", 137}, {"reason", "OOMKilled"}, {"finishedAt", now}}}}}}})}}}};
    auto failed = cluster.client().Patch(kube::PodsResource(), "default", victim, kube::PatchType::kMerge, status,
                                         "status");
    if (!failed.ok()) Die("fail " + victim + ": " + failed.status().ToString());
  }
  auto done = WaitRunning(cluster, name, 1, workers, options, node_loss ? "recovery (node loss)" : "recovery");
  m.seconds = Seconds(done - start);
  cpu.End(&m);
  m.metrics = cluster.ScrapeOperator();
  return m;
}

// Runs `once` options.repeat times and keeps the run with the median time.
Measurement MedianOf(const Options& options, const std::function<Measurement()>& once, std::string* spread) {
  std::vector<Measurement> runs;
  for (int i = 0; i < options.repeat; ++i) runs.push_back(once());
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.seconds < b.seconds; });
  char text[96];
  std::snprintf(text, sizeof(text), "%.3f..%.3f", runs.front().seconds, runs.back().seconds);
  *spread = text;
  return runs[runs.size() / 2];
}

void Usage() {
  std::fprintf(stderr,
               "usage: operator_bench [--workers N] [--qps Q] [--burst B] [--gang N] [--jobs N]\n"
               "  [--workers-per-job N] [--rss-pods N] [--repeat N] [--bare-threads N,M] [--no-none]\n"
               "  [--node-cpus C] [--timeout-seconds S] [--cases gang,jobs,bare,floor,rss,queue,recovery] [--queue-jobs 500] [--no-simulator] [--rss-simulator]\n"
               "  [--recovery-workers 64]\n"
               "  [--perf DIR]\n"
               "  [--operator PATH] [--apiserver PATH] [--crd PATH] [--operator-flag FLAG]... [--keep-logs]\n");
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) Die(flag + ": missing value");
      return argv[++i];
    };
    auto positive = [&](int min) {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < min || n > 1000000) Die(flag + ": want an integer >= " + std::to_string(min) + ", got \"" + v + "\"");
      return static_cast<int>(n);
    };
    if (flag == "--workers") o.workers = positive(1);
    else if (flag == "--qps") o.qps = std::strtod(value().c_str(), nullptr);
    else if (flag == "--burst") o.burst = positive(1);
    else if (flag == "--gang") o.gang = positive(1);
    else if (flag == "--jobs") o.jobs = positive(1);
    else if (flag == "--workers-per-job") o.workers_per_job = positive(1);
    else if (flag == "--rss-pods") o.rss_pods = positive(1);
    else if (flag == "--queue-jobs") o.queue_jobs = positive(1);
    else if (flag == "--recovery-workers") o.recovery_workers = positive(4);
    else if (flag == "--repeat") o.repeat = positive(1);
    else if (flag == "--operator-flag") o.operator_flags.push_back(value());
    else if (flag == "--bare-threads") {
      o.bare_threads.clear();
      std::string list = value();
      for (size_t start = 0; start <= list.size();) {
        size_t comma = std::min(list.find(',', start), list.size());
        long n = std::strtol(list.substr(start, comma - start).c_str(), nullptr, 10);
        if (n < 1 || n > 1024) Die("--bare-threads: want a comma-separated list of 1..1024, got \"" + list + "\"");
        o.bare_threads.push_back(static_cast<int>(n));
        start = comma + 1;
      }
    }
    else if (flag == "--no-none") o.none_rows = false;
    else if (flag == "--node-cpus") o.node_cpus = value();
    else if (flag == "--timeout-seconds") o.timeout_seconds = positive(1);
    else if (flag == "--operator") o.operator_binary = value();
    else if (flag == "--apiserver") o.apiserver_binary = value();
    else if (flag == "--crd") o.crd = value();
    else if (flag == "--keep-logs") o.keep_logs = true;
    else if (flag == "--no-simulator") o.simulate_pods = false;
    else if (flag == "--rss-simulator") o.rss_simulator = true;
    else if (flag == "--cases") o.cases = value();
    else if (flag == "--perf") o.perf_dir = value();
    else if (flag == "--help" || flag == "-h") {
      Usage();
      std::exit(0);
    } else {
      Usage();
      Die("unknown flag " + flag);
    }
  }
  if (o.bare_threads.empty()) o.bare_threads = {o.workers, 4 * o.workers};
  return o;
}

const char* Verdict(bool met) { return met ? "met" : "NOT met"; }

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseFlags(argc, argv);
  for (const std::string* path : {&options.operator_binary, &options.apiserver_binary, &options.crd}) {
    if (!std::filesystem::exists(*path)) Die(*path + " does not exist (see --operator, --apiserver, --crd)");
  }
  auto selected = [&](const char* name) { return options.cases.find(name) != std::string::npos; };
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

  std::vector<std::string> schedulers = {"Builtin"};
  if (options.none_rows) schedulers.push_back("None");
  std::map<std::string, Measurement> gang, jobs;
  std::map<std::string, std::string> gang_spread, jobs_spread;
  for (const std::string& scheduler : schedulers) {
    if (selected("gang")) {
      gang[scheduler] = MedianOf(options, [&] { return RunGang(options, scheduler); }, &gang_spread[scheduler]);
    }
    if (selected("jobs")) {
      jobs[scheduler] = MedianOf(options, [&] { return RunJobs(options, scheduler); }, &jobs_spread[scheduler]);
    }
  }
  struct BareRun {
    int threads;
    Measurement m;
    std::string spread;
  };
  std::vector<BareRun> bare_runs;
  std::optional<Measurement> bare;  // the fastest: the ceiling
  if (selected("bare")) {
    for (int threads : options.bare_threads) {
      BareRun run{threads, {}, {}};
      run.m = MedianOf(options, [&] { return RunBare(options, threads); }, &run.spread);
      if (!bare || run.m.PodsPerSecond() > bare->PodsPerSecond()) bare = run.m;
      bare_runs.push_back(std::move(run));
    }
  }
  // The floor runs at the ceiling's thread count, so the two differ only in the work done.
  const int floor_threads = bare_runs.empty() ? options.workers
                                              : std::max_element(bare_runs.begin(), bare_runs.end(), [](const auto& a, const auto& b) {
                                                  return a.m.PodsPerSecond() < b.m.PodsPerSecond();
                                                })->threads;
  std::optional<Measurement> floor_writes, floor_watch;
  std::string floor_writes_spread, floor_watch_spread;
  if (selected("floor")) {
    floor_writes = MedianOf(options, [&] { return RunFloor(options, floor_threads, false); }, &floor_writes_spread);
    floor_watch = MedianOf(options, [&] { return RunFloor(options, floor_threads, true); }, &floor_watch_spread);
  }
  std::optional<RssResult> rss;
  if (selected("rss")) rss = RunRss(options);
  std::optional<QueueResult> queue;
  if (selected("queue")) queue = RunQueue(options);
  std::optional<Measurement> recovery_pod, recovery_node, gang_default_flags;
  std::string recovery_pod_spread, recovery_node_spread, gang_default_spread;
  if (selected("recovery")) {
    recovery_pod = MedianOf(options, [&] { return RunRecovery(options, false); }, &recovery_pod_spread);
    recovery_node = MedianOf(options, [&] { return RunRecovery(options, true); }, &recovery_node_spread);
    gang_default_flags = MedianOf(options, [&] { return RunGang(options, "Builtin", true); }, &gang_default_spread);
  }

  const double ceiling = bare ? bare->PodsPerSecond() : 0;
  std::printf("\n%-44s %6s %9s %16s %9s %8s %8s %7s\n", "case", "pods", "seconds", "(min..max)", "pods/s",
              "op cpu", "srv cpu", "ratio");
  auto row = [&](const std::string& label, const Measurement& m, const std::string& spread, bool ratio) {
    char ratio_text[16] = "-";
    if (ratio && ceiling > 0) std::snprintf(ratio_text, sizeof(ratio_text), "%.2f", m.PodsPerSecond() / ceiling);
    std::printf("%-44s %6d %9.3f %16s %9.0f %8.2f %8.2f %7s\n", label.c_str(), m.pods, m.seconds, spread.c_str(),
                m.PodsPerSecond(), m.operator_cpu, m.server_cpu, ratio_text);
  };
  for (const auto& [s, m] : gang) {
    row("1 job x " + std::to_string(options.gang) + ", " + s + ": create -> last pod", m, gang_spread[s], false);
  }
  for (const auto& [s, m] : jobs) {
    row(std::to_string(options.jobs) + " jobs x " + std::to_string(options.workers_per_job) + ", " + s +
            ": operator",
        m, jobs_spread[s], true);
  }
  for (const BareRun& run : bare_runs) {
    bool fastest = run.m.PodsPerSecond() == bare->PodsPerSecond();
    row("bare HttpClient, " + std::to_string(run.threads) + " threads" + (fastest ? " (ceiling)" : ""), run.m,
        run.spread, true);
  }
  if (floor_writes) {
    std::string threads = std::to_string(floor_threads) + " threads";
    row("floor: required writes only, " + threads, *floor_writes, floor_writes_spread, true);
    row("floor: required writes + caches, " + threads, *floor_watch, floor_watch_spread, true);
  }
  if (rss) {
    row(std::to_string(rss->jobs) + " jobs x " + std::to_string(options.workers_per_job) + ", Builtin (rss run, 1x)",
        rss->creation, "-", false);
    std::printf("\n%-44s %9s %9s\n", "operator memory", "VmRSS MB", "VmHWM MB");
    std::printf("%-44s %9.1f %9.1f\n", ("idle: synced, " + std::to_string(rss->nodes) + " nodes, no jobs").c_str(),
                rss->idle.rss_mb, rss->idle.peak_mb);
    std::printf("%-44s %9.1f %9.1f\n",
                (std::to_string(options.rss_pods) + " pods cached (" + std::to_string(rss->jobs) + " jobs, quiet)")
                    .c_str(),
                rss->loaded.rss_mb, rss->loaded.peak_mb);
    std::printf("%-44s %9.1f %9.1f\n",
                ("restarted with them (quiet after " + std::to_string(static_cast<int>(std::lround(rss->restart_seconds))) +
                 " s)")
                    .c_str(),
                rss->restarted.rss_mb, rss->restarted.peak_mb);
    if (!rss->quiet) std::printf("# warning: the operator was not quiet when the loaded RSS was read\n");
    if (!rss->restarted_quiet) std::printf("# warning: the restarted operator was not quiet when its RSS was read\n");
  }
  if (queue) {
    std::printf("\n%d gangs of %d waiting for capacity (%d nodes): operator CPU %.1f%% of a core over %.1f s, "
                "%.0f reconciles (%.0f us CPU each)\n",
                options.queue_jobs, options.workers_per_job, queue->nodes, 100 * queue->operator_cpu / queue->seconds,
                queue->seconds, queue->reconciles,
                queue->reconciles > 0 ? 1e6 * queue->operator_cpu / queue->reconciles : 0.0);
  }

  if (recovery_pod) {
    std::string gang_label = std::to_string(options.recovery_workers) + "-worker gang";
    row(gang_label + ": worker exit 137 -> next attempt Running", *recovery_pod, recovery_pod_spread, false);
    row(gang_label + ": node dies -> next attempt Running", *recovery_node, recovery_node_spread, false);
    row("1 job x " + std::to_string(options.gang) + ", Builtin, default --qps/--burst", *gang_default_flags,
        gang_default_spread, false);
  }

  std::printf("\n");
  for (const auto& [s, m] : gang) PrintBreakdown(("gang " + s).c_str(), m);
  for (const auto& [s, m] : jobs) PrintBreakdown(("jobs " + s).c_str(), m);
  if (bare) {
    std::printf("# %-22s client (this process) cpu %.2f s, server cpu %.2f s over %.2f s wall\n", "bare client",
                bare->operator_cpu, bare->server_cpu, bare->seconds);
    PrintServerWrites("bare client", *bare);
  }
  std::printf("# op cpu / srv cpu: CPU seconds of the operator (bare row: this process, i.e. the client) and of the\n"
              "# API server during the measured interval; ratio: pods/s / the bare client's pods/s\n");
  if (floor_writes) {
    std::printf("# floor: per job the TrainingJob, Service, pods, 1 status write and 1 Event from a scripted client;\n"
                "# its ratio is the most any operator that must make those writes can reach here\n");
    PrintServerWrites("floor", *floor_writes);
  }
  if (rss) PrintBreakdown("rss run (creation)", rss->creation);

  std::printf("\n# targets (issue 4), Builtin:");
  if (jobs.count("Builtin") && bare) {
    double ratio = jobs["Builtin"].PodsPerSecond() / ceiling;
    std::printf(" ratio >= 0.8 %s;", Verdict(ratio >= 0.8));
  }
  if (jobs.count("Builtin")) std::printf(" >= 500 pods/s %s;", Verdict(jobs["Builtin"].PodsPerSecond() >= 500));
  if (floor_writes && bare) {
    std::printf(" (the floor reaches %.2f with the required writes alone, %.2f with the caches too);",
                floor_writes->PodsPerSecond() / ceiling, floor_watch->PodsPerSecond() / ceiling);
  }
  if (rss) {
    std::printf(" RSS idle <= 20 MB %s; RSS at 10k pods <= 80 MB %s%s", Verdict(rss->idle.rss_mb <= 20),
                Verdict(std::max(rss->loaded.rss_mb, rss->restarted.rss_mb) <= 80),
                options.rss_pods == 10000 ? "" : (" (measured at " + std::to_string(options.rss_pods) + " pods)").c_str());
  }
  std::printf("\n");
  if (gang.count("Builtin")) std::printf("RESULT gang512_seconds=%.3f\n", gang["Builtin"].seconds);
  if (jobs.count("Builtin")) std::printf("RESULT pods_per_second=%.0f\n", jobs["Builtin"].PodsPerSecond());
  if (jobs.count("Builtin") && bare) {
    std::printf("RESULT ratio_vs_bare_client=%.2f\n", jobs["Builtin"].PodsPerSecond() / ceiling);
  }
  if (recovery_pod) {
    std::printf("# targets (issue 14): restarts <= 2 s %s (pod failure), %s (node loss); %d pods with default flags "
                "<= 1.5 s %s\n",
                Verdict(recovery_pod->seconds <= 2), Verdict(recovery_node->seconds <= 2), options.gang,
                Verdict(gang_default_flags->seconds <= 1.5));
    std::printf("RESULT restart_seconds_pod_failure=%.3f\n", recovery_pod->seconds);
    std::printf("RESULT restart_seconds_node_loss=%.3f\n", recovery_node->seconds);
    std::printf("RESULT gang512_default_flags_seconds=%.3f\n", gang_default_flags->seconds);
  }
  if (rss) {
    std::printf("RESULT rss_idle_mb=%.1f\n", rss->idle.rss_mb);
    // The larger of the two states an operator with 10k pods is in: grown into it, or restarted.
    std::printf("RESULT rss_10k_pods_mb=%.1f\n", std::max(rss->loaded.rss_mb, rss->restarted.rss_mb));
  }
  return 0;
}
