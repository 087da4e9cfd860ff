#include "cluster.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "ringleader/api/resources.h"
#include "ringleader/kube/resource.h"

namespace ringleader::bench {

using kube::Json;
using SteadyClock = std::chrono::steady_clock;

std::unique_ptr<kube::HttpClient> NewClient(kube::RestConfig config, double qps, int burst,
                                            metrics::Registry* registry, int max_retries) {
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

Cluster::Cluster(const Options& options, std::string name)
    : options_(options), name_(std::move(name)) {
  dir_ = std::filesystem::temp_directory_path() /
         ("rl-operator-bench-" + std::to_string(::getpid()) + "-" + name_);
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

Cluster::~Cluster() {
  operator_.Stop();
  server_.Stop();
  if (!options_.keep_logs) std::filesystem::remove_all(dir_);
}

void Cluster::StartServer(int pods, bool simulate, int nodes, const std::string& node_cpus) {
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
  // A killed node is marked Unknown at once: the recovery case times the operator from the
  // node lifecycle controller's mark (every operator waits out that grace period alike).
  argv.insert(argv.end(), {"--node-monitor-grace-period-ms", "0"});
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

void Cluster::StartOperator(bool default_flags) {
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

void Cluster::RestartOperator() {
  operator_.Stop(std::chrono::seconds(10), SIGTERM);
  StartOperator();
}

Scrape Cluster::ScrapeOperator() {
  auto response = metrics_client_->Raw("GET", "/metrics");
  if (!response.ok()) Die("operator /metrics: " + response.status().ToString());
  return ParseMetrics(response->body);
}

bool Cluster::WaitQuiet(int jobs, const std::string& phase, std::chrono::seconds timeout) {
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

void Cluster::ClearRequestLog() {
  auto cleared = client_->Raw("DELETE", "/testing/requests");
  if (!cleared.ok()) Die("DELETE /testing/requests: " + cleared.status().ToString());
}

std::map<std::string, int> Cluster::RequestCounts() {
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

Json Cluster::CreateJob(const Json& job) {
  auto created = client_->Create(kube::TrainingJobsResource(), "default", job);
  if (!created.ok()) Die("create TrainingJob: " + created.status().ToString());
  return std::move(created).value();
}

void Cluster::CreateJobsConcurrently(const std::vector<Json>& jobs, int threads) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < std::max(1, threads); ++t) {
    submitters.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();) CreateJob(jobs[i]);
    });
  }
  for (auto& t : submitters) t.join();
}

}  // namespace ringleader::bench
