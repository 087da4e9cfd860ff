#include "recovery_case.h"

#include <thread>

#include "ringleader/common/rfc3339.h"
#include "ringleader/kube/resource.h"
#include "ringleader/policy/labels.h"
#include "workload.h"

namespace ringleader::bench {

using kube::Json;

namespace {

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

}  // namespace

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

}  // namespace ringleader::bench
