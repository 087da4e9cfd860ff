// The simulated kubelet: starts bound pods (Running, IPs, container statuses), ends them per
// their annotations (see pod_simulator.cc), fails the pods of a killed node, and writes how a
// pod ended.

#include <algorithm>

#include "ringleader/common/json_fields.h"
#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr char kSucceedAfter[] = "sim.ringleader.dev/succeed-after-seconds";
constexpr char kFailAfter[] = "sim.ringleader.dev/fail-after-seconds";
constexpr char kExitCode[] = "sim.ringleader.dev/exit-code";
constexpr char kOnlyAttempt[] = "sim.ringleader.dev/only-attempt";
constexpr char kAttemptLabel[] = "ringleader.dev/attempt";

std::string Annotation(const json& pod, const char* key) {
  const json& meta = pod["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].contains(key)) return "";
  const json& v = meta["annotations"][key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::chrono::milliseconds SecondsToMs(const std::string& text) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::atof(text.c_str()) * 1000.0));
}

using json_fields::ArrayOrEmpty;
using json_fields::ObjectOrEmpty;
using json_fields::StringField;

}  // namespace

void SetPodCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (auto& c : status["conditions"]) {
    if (c.value("type", "") == type) {
      if (c.value("status", "") != value) c["lastTransitionTime"] = now;
      c["status"] = value;
      if (reason.empty()) {
        c.erase("reason");
      } else {
        c["reason"] = reason;
      }
      if (message.empty()) {
        c.erase("message");
      } else {
        c["message"] = message;
      }
      return;
    }
  }
  json c = {{"type", type}, {"status", value}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  status["conditions"].push_back(c);
}

bool TestApiServer::Impl::StartPodLocked(const SimVisit& visit, const json& pod) {
  // Bound (by us, or created with spec.nodeName): the simulated kubelet starts it.
  const std::string uid = pod["metadata"].value("uid", std::string());
  const std::string& now_text = visit.now_text;
  auto& state = sim_pods_[uid];
  if (state.bound_at == std::chrono::steady_clock::time_point{}) state.bound_at = visit.now;
  auto due = state.bound_at + options_.pod_start_delay;
  if (due > visit.now) {
    SimWaitLocked(visit, due);
    return false;
  }
  const json& spec = ObjectOrEmpty(pod, "spec");
  json updated = pod;
  json old = pod;
  json& status = updated["status"];
  status["phase"] = "Running";
  uint64_t n = ++pod_ip_counter_;
  std::string ip = "10.244." + std::to_string((n / 250) % 250) + "." + std::to_string(n % 250 + 1);
  status["podIP"] = ip;
  status["podIPs"] = {{{"ip", ip}}};
  std::string host_ip = "10.0.0.1";
  if (auto node_objs = objects_.find("/nodes"); node_objs != objects_.end()) {
    auto nit = node_objs->second.find("/" + spec.value("nodeName", ""));
    if (nit != node_objs->second.end()) {
      for (const auto& a : nit->second["status"].value("addresses", json::array())) {
        if (a.value("type", "") == "InternalIP") host_ip = a.value("address", host_ip);
      }
    }
  }
  status["hostIP"] = host_ip;
  status["hostIPs"] = {{{"ip", host_ip}}};
  status["startTime"] = now_text;
  SetPodCondition(status, "PodScheduled", "True", "", "", now_text);
  SetPodCondition(status, "Initialized", "True", "", "", now_text);
  SetPodCondition(status, "ContainersReady", "True", "", "", now_text);
  SetPodCondition(status, "Ready", "True", "", "", now_text);
  json statuses = json::array();
  for (const auto& c : ArrayOrEmpty(spec, "containers")) {
    statuses.push_back({{"name", c.value("name", "")}, {"image", c.value("image", "")},
                        {"imageID", "sim://" + c.value("image", "")},
                        {"containerID", "sim://" + uid + "/" + c.value("name", "")},
                        {"ready", true}, {"started", true}, {"restartCount", 0},
                        {"state", {{"running", {{"startedAt", now_text}}}}}});
  }
  status["containerStatuses"] = statuses;
  state.running_at = visit.now;
  state.running_by_sim = true;
  Commit(*FindType("", "v1", "pods"), "MODIFIED", updated, &old);
  return true;
}

void TestApiServer::Impl::FinishPodLocked(const SimVisit& visit, const json& pod) {
  auto& state = sim_pods_[pod["metadata"].value("uid", std::string())];
  if (state.running_at == std::chrono::steady_clock::time_point{}) state.running_at = visit.now;
  std::string only = Annotation(pod, kOnlyAttempt);
  if (!only.empty()) {
    const json& labels = ObjectOrEmpty(pod["metadata"], "labels");
    if (labels.value(kAttemptLabel, "") != only) return;
  }
  std::string succeed = Annotation(pod, kSucceedAfter);
  std::string fail = Annotation(pod, kFailAfter);
  if (succeed.empty() && fail.empty()) return;
  auto succeed_at = succeed.empty() ? std::chrono::steady_clock::time_point::max() : state.running_at + SecondsToMs(succeed);
  auto fail_at = fail.empty() ? std::chrono::steady_clock::time_point::max() : state.running_at + SecondsToMs(fail);
  auto due = std::min(succeed_at, fail_at);
  if (due > visit.now) {
    SimWaitLocked(visit, due);
    return;
  }
  auto pod_objs = objects_.find("/pods");
  if (pod_objs == objects_.end()) return;
  auto live = pod_objs->second.find(visit.key);
  if (live == pod_objs->second.end()) return;
  json updated = live->second;
  json old = live->second;
  if (fail_at <= succeed_at) {
    std::string code = Annotation(old, kExitCode);
    MarkPodFinished(updated, false, code.empty() ? 1 : std::atoi(code.c_str()), "Error", "");
  } else {
    MarkPodFinished(updated, true, 0, "Completed", "");
  }
  Commit(*FindType("", "v1", "pods"), "MODIFIED", updated, &old);
}

Status TestApiServer::Impl::KillNodeLocked(const std::string& name) {
  json* node = FindObject("/nodes", "", name);
  if (node == nullptr) return NotFoundError("node " + name + " not found");
  if (!sim_dead_nodes_.insert(name).second) return Status::Ok();
  if (options_.simulate_pods && options_.node_monitor_grace_period.count() > 0) {
    sim_unmarked_dead_nodes_[name] = std::chrono::steady_clock::now() + options_.node_monitor_grace_period;
    sim_dirty_ = true;
    sim_cv_.notify_all();
  } else {
    MarkNodeUnreachableLocked(name);
  }
  return Status::Ok();
}

void TestApiServer::Impl::MarkNodeUnreachableLocked(const std::string& name) {
  const ResourceType* node_type = FindType("", "v1", "nodes");
  json* node = FindObject("/nodes", "", name);
  if (node == nullptr) return;  // deleted meanwhile: nothing to mark
  std::string now = NowRfc3339();
  json updated = *node;
  json old = *node;
  // What the node lifecycle controller does once the kubelet's heartbeats have stopped for
  // --node-monitor-grace-period.
  SetPodCondition(updated["status"], "Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.",
               now);
  if (!updated["spec"].is_object()) updated["spec"] = json::object();
  json taints = updated["spec"].value("taints", json::array());
  for (const char* effect : {"NoSchedule", "NoExecute"}) {
    json taint = {{"key", "node.kubernetes.io/unreachable"}, {"effect", effect}};
    if (std::string(effect) == "NoExecute") taint["timeAdded"] = now;
    taints.push_back(taint);
  }
  updated["spec"]["taints"] = taints;
  Commit(*node_type, "MODIFIED", updated, &old);
  // MarkPodsNotReady: the node's pods stop being Ready (Services drop them).
  const ResourceType* pod_type = FindType("", "v1", "pods");
  auto pods = objects_.find("/pods");
  if (pods == objects_.end()) return;
  std::vector<std::string> keys;
  for (const auto& [key, pod] : pods->second) {
    if (StringField(ObjectOrEmpty(pod, "spec"), "nodeName") == name) keys.push_back(key);
  }
  for (const std::string& key : keys) {
    auto it = pods->second.find(key);
    if (it == pods->second.end()) continue;
    json pod = it->second;
    json before = it->second;
    if (!pod["status"].is_object()) continue;
    SetPodCondition(pod["status"], "Ready", "False", "NodeNotReady", "", now);
    if (pod != before) Commit(*pod_type, "MODIFIED", pod, &before);
  }
  return;
}

void TestApiServer::Impl::MarkPodFinished(json& pod, bool succeeded, int exit_code, const std::string& reason,
                                          const std::string& message) {
  std::string now = NowRfc3339();
  json& status = pod["status"];
  status["phase"] = succeeded ? "Succeeded" : "Failed";
  if (reason == "Evicted") {
    status["reason"] = "Evicted";
    status["message"] = message;
  }
  std::string cond_reason = succeeded ? "PodCompleted" : "PodFailed";
  SetPodCondition(status, "Ready", "False", cond_reason, "", now);
  SetPodCondition(status, "ContainersReady", "False", cond_reason, "", now);
  json statuses = json::array();
  const json& spec = ObjectOrEmpty(pod, "spec");
  for (const auto& c : ArrayOrEmpty(spec, "containers")) {
    std::string started = now;
    if (status.contains("containerStatuses")) {
      for (const auto& cs : status["containerStatuses"]) {
        if (cs.value("name", "") == c.value("name", "") && cs.contains("state") && cs["state"].contains("running")) {
          started = cs["state"]["running"].value("startedAt", now);
        }
      }
    }
    statuses.push_back({{"name", c.value("name", "")}, {"image", c.value("image", "")},
                        {"imageID", "sim://" + c.value("image", "")}, {"ready", false}, {"started", false},
                        {"restartCount", 0},
                        {"state", {{"terminated", {{"exitCode", exit_code},
                                                   {"reason", reason == "Evicted" ? "Error" : reason},
                                                   {"startedAt", started}, {"finishedAt", now}}}}}});
  }
  status["containerStatuses"] = statuses;
}

}  // namespace ringleader::testapi
