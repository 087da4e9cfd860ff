#include "memory_cases.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <unistd.h>

#include "ringleader/kube/resource.h"
#include "ringleader/policy/labels.h"
#include "workload.h"

namespace ringleader::bench {

using kube::Json;

namespace {

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

}  // namespace

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

}  // namespace ringleader::bench
