// Pod lifecycle simulator (like kwok): fake Ready nodes, a scheduler that binds pods where
// their requests fit, and a kubelet that runs them and ends them per annotations.
//
// Annotations on a pod (see docs/testing.md):
//   sim.ringleader.dev/succeed-after-seconds: "S"   Running -> Succeeded after S seconds
//   sim.ringleader.dev/fail-after-seconds:    "S"   Running -> Failed after S seconds
//   sim.ringleader.dev/exit-code:             "N"   exit code when failing (default 1)
//   sim.ringleader.dev/only-attempt:          "A"   the two above apply only when the pod's
//                                                   label ringleader.dev/attempt equals A

#include <algorithm>
#include <cstdio>
#include <set>

#include "ringleader/common/json_fields.h"
#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr char kGpu[] = "nvidia.com/gpu";

using Resources = SimResources;

// Fields by reference (json_fields.h): json::value(key, default) copied every pod's spec on
// every simulator pass, under the store lock, which was most of the server's CPU in
// operator_bench.
using json_fields::ArrayOrEmpty;
using json_fields::ObjectOrEmpty;
using json_fields::StringField;

Resources PodRequests(const json& pod) {
  Resources r;
  r.pods = 1;
  if (!pod.contains("spec")) return r;
  for (const auto& c : ArrayOrEmpty(pod["spec"], "containers")) {
    const json& res = ObjectOrEmpty(c, "resources");
    const json& req = ObjectOrEmpty(res, "requests");
    const json& lim = ObjectOrEmpty(res, "limits");
    auto get = [&](const char* name) -> int64_t {
      if (req.contains(name) && req[name].is_string()) return ParseQuantityMilli(req[name]);
      if (req.contains(name) && req[name].is_number()) return static_cast<int64_t>(req[name].get<double>() * 1000);
      if (lim.contains(name) && lim[name].is_string()) return ParseQuantityMilli(lim[name]);
      if (lim.contains(name) && lim[name].is_number()) return static_cast<int64_t>(lim[name].get<double>() * 1000);
      return 0;
    };
    r.cpu_milli += get("cpu");
    r.memory_milli += get("memory");
    r.gpu_milli += get(kGpu);
  }
  return r;
}


bool Tolerates(const json& tolerations, const json& taint) {
  for (const auto& t : tolerations) {
    std::string effect = t.value("effect", "");
    if (!effect.empty() && effect != taint.value("effect", "")) continue;
    std::string op = t.value("operator", "Equal");
    std::string key = t.value("key", "");
    if (op == "Exists") {
      if (key.empty() || key == taint.value("key", "")) return true;
    } else if (key == taint.value("key", "") && t.value("value", "") == taint.value("value", "")) {
      return true;
    }
  }
  return false;
}

// Why the pod does not fit the node, or "" when it fits.
std::string FitFailure(const json& pod, const SimNode& node, const Resources& want) {
  if (!node.schedulable) return "node(s) were unschedulable";
  const json& spec = pod["spec"];
  const json& selector = ObjectOrEmpty(spec, "nodeSelector");
  for (const auto& kv : selector.items()) {
    if (!node.labels.contains(kv.key()) || node.labels[kv.key()] != kv.value()) {
      return "node(s) didn't match Pod's node affinity/selector";
    }
  }
  const json& tolerations = ArrayOrEmpty(spec, "tolerations");
  for (const auto& taint : node.taints) {
    std::string effect = taint.value("effect", "");
    if ((effect == "NoSchedule" || effect == "NoExecute") && !Tolerates(tolerations, taint)) {
      return "node(s) had untolerated taint {" + taint.value("key", "") + ": " + taint.value("value", "") + "}";
    }
  }
  const Resources& used = *node.used;
  if (used.pods + 1 > node.allocatable.pods) return "Too many pods";
  if (used.cpu_milli + want.cpu_milli > node.allocatable.cpu_milli) return "Insufficient cpu";
  if (used.memory_milli + want.memory_milli > node.allocatable.memory_milli) return "Insufficient memory";
  if (used.gpu_milli + want.gpu_milli > node.allocatable.gpu_milli) return "Insufficient nvidia.com/gpu";
  return "";
}



bool SameRequests(const Resources& a, const Resources& b) {
  return a.cpu_milli == b.cpu_milli && a.memory_milli == b.memory_milli && a.gpu_milli == b.gpu_milli &&
         a.pods == b.pods;
}

void AddRequests(Resources& to, const Resources& r, int64_t sign) {
  to.cpu_milli += sign * r.cpu_milli;
  to.memory_milli += sign * r.memory_milli;
  to.gpu_milli += sign * r.gpu_milli;
  to.pods += sign * r.pods;
}

}  // namespace

void TestApiServer::Impl::CreateFakeNodes() {
  const ResourceType* node_type = FindType("", "v1", "nodes");
  for (int i = 0; i < options_.nodes; ++i) {
    std::string name = "node-" + std::to_string(i);
    json capacity = {{"cpu", options_.node_cpus}, {"memory", options_.node_memory}, {"pods", "110"},
                     {"ephemeral-storage", "100Gi"}};
    if (options_.node_gpus > 0) capacity[kGpu] = std::to_string(options_.node_gpus);
    std::string now = NowRfc3339();
    json node = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         {{"name", name}, {"uid", NewUid()}, {"creationTimestamp", now},
          {"labels", {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}, {"kubernetes.io/arch", "amd64"},
                      {"type", "simulated"}}}}},
        {"spec", json::object()},
        {"status",
         {{"capacity", capacity},
          {"allocatable", capacity},
          {"conditions",
           {{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}, {"message", "simulated kubelet is ready"},
             {"lastHeartbeatTime", now}, {"lastTransitionTime", now}}}},
          {"addresses", {{{"type", "InternalIP"}, {"address", "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)}},
                         {{"type", "Hostname"}, {"address", name}}}},
          {"nodeInfo", {{"kubeletVersion", "v1.32.0-sim"}, {"operatingSystem", "linux"}, {"architecture", "amd64"},
                        {"containerRuntimeVersion", "sim://1.0"}}}}}};
    Commit(*node_type, "ADDED", node, nullptr);
  }
}

void TestApiServer::Impl::SimulatorLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    try {
      next = SimulatorStepLocked(std::chrono::steady_clock::now());
    } catch (const std::exception& e) {
      // A pod or node with malformed fields; skip this pass rather than stop simulating.
      std::fprintf(stderr, "ringleader-testapiserver: simulator pass failed: %s\n", e.what());
    }
    sim_cv_.wait_until(lock, next, [&] { return stopping_ || sim_dirty_; });
    // A burst of pod writes (a 512-pod gang) is handled in one pass rather than one pass
    // per write: each pass holds the store lock.
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    lock.lock();
  }
}

void TestApiServer::Impl::SimObserveLocked(const ResourceType& type, const std::string& event_type,
                                           const std::string& key, const json& object) {
  if (!type.group.empty()) return;  // core pods and nodes only
  try {
    if (type.plural == "pods") SimObservePodLocked(event_type, key, object);
    if (type.plural == "nodes") SimObserveNodeLocked(event_type, object);
  } catch (const std::exception& e) {
    // Commit must not fail for the simulator's sake: a node with a malformed field is left out.
    std::fprintf(stderr, "ringleader-testapiserver: simulator cannot read %s %s: %s\n", type.plural.c_str(),
                 key.c_str(), e.what());
  }
}

void TestApiServer::Impl::SimObservePodLocked(const std::string& event_type, const std::string& key, const json& pod) {
  SimPod next;
  const bool deleted = event_type == "DELETED";
  if (!deleted) {
    const json& meta = ObjectOrEmpty(pod, "metadata");
    std::string uid = StringField(meta, "uid");
    next.order_key = StringField(meta, "creationTimestamp") + "|" +
                     std::string(20 - std::min<size_t>(20, uid.size()), '0') + key;
    next.node_name = StringField(ObjectOrEmpty(pod, "spec"), "nodeName");
    std::string phase = StringField(ObjectOrEmpty(pod, "status"), "phase");
    next.holds_capacity = !next.node_name.empty() && phase != "Succeeded" && phase != "Failed";
    next.requests = PodRequests(pod);
  }
  auto release = [&](const SimPod& p) {
    if (sim_defer_release_) {
      sim_deferred_release_.emplace_back(p.node_name, p.requests);
    } else {
      AddRequests(sim_used_[p.node_name], p.requests, -1);
      sim_capacity_changed_ = true;
    }
  };
  auto found = sim_pod_index_.find(key);
  if (found != sim_pod_index_.end()) {
    // Any write may change what the pod needs: it is visited again next pass, which decides
    // afresh whether it waits on a timer or for capacity.
    SimPod& old = found->second;
    sim_touched_.erase({old.order_key, key});
    if (old.unschedulable) sim_unschedulable_.erase({old.order_key, key});
    if (old.timer) sim_timers_.erase({*old.timer, key});
    bool same_hold = old.holds_capacity && next.holds_capacity && old.node_name == next.node_name &&
                     SameRequests(old.requests, next.requests);
    if (old.holds_capacity && !same_hold) release(old);
    if (next.holds_capacity && !same_hold) {
      AddRequests(sim_used_[next.node_name], next.requests, 1);
      sim_capacity_changed_ = true;
    }
    if (deleted) {
      sim_pod_index_.erase(found);
      return;
    }
    old = std::move(next);
  } else {
    if (deleted) return;
    if (next.holds_capacity) {
      AddRequests(sim_used_[next.node_name], next.requests, 1);
      sim_capacity_changed_ = true;
    }
    found = sim_pod_index_.emplace(key, std::move(next)).first;
  }
  sim_touched_.emplace(found->second.order_key, key);
}

void TestApiServer::Impl::SimObserveNodeLocked(const std::string& event_type, const json& n) {
  const json& meta = ObjectOrEmpty(n, "metadata");
  std::string name = StringField(meta, "name");
  sim_nodes_changed_ = true;
  sim_capacity_changed_ = true;
  sim_nodes_.erase(name);
  if (event_type == "DELETED") return;
  SimNode info;
  info.name = name;
  info.labels = meta.value("labels", json::object());
  const json& spec = ObjectOrEmpty(n, "spec");
  info.taints = spec.value("taints", json::array());
  info.schedulable = !spec.value("unschedulable", false) && !meta.contains("deletionTimestamp");
  const json& status = ObjectOrEmpty(n, "status");
  for (const auto& c : ArrayOrEmpty(status, "conditions")) {
    if (c.value("type", "") == "Ready" && c.value("status", "") != "True") info.schedulable = false;
  }
  json alloc = status.value("allocatable", status.value("capacity", json::object()));
  auto q = [&](const char* name) -> int64_t {
    if (!alloc.contains(name)) return 0;
    return alloc[name].is_string() ? ParseQuantityMilli(alloc[name]) : static_cast<int64_t>(alloc[name].get<double>() * 1000);
  };
  info.allocatable = {q("cpu"), q("memory"), q(kGpu), alloc.contains("pods") ? q("pods") / 1000 : 110};
  info.used = &sim_used_[name];
  sim_nodes_.emplace(name, std::move(info));
}

std::chrono::steady_clock::time_point TestApiServer::Impl::SimulatorStepLocked(std::chrono::steady_clock::time_point now) {
  sim_dirty_ = false;
  auto next_wake = now + std::chrono::seconds(1);
  const ResourceType* pod_type = FindType("", "v1", "pods");
  std::string now_text = NowRfc3339();

  // Dead nodes whose kubelet has been silent for the node monitor grace period.
  for (auto it = sim_unmarked_dead_nodes_.begin(); it != sim_unmarked_dead_nodes_.end();) {
    if (it->second > now) {
      next_wake = std::min(next_wake, it->second);
      ++it;
      continue;
    }
    MarkNodeUnreachableLocked(it->first);
    it = sim_unmarked_dead_nodes_.erase(it);
  }

  // Graceful deletions that are due.
  bool removed = false;
  for (auto it = pending_pod_deletions_.begin(); it != pending_pod_deletions_.end();) {
    if (it->second > now) {
      next_wake = std::min(next_wake, it->second);
      ++it;
      continue;
    }
    if (json* pod = FindObjectByUid(it->first)) {
      // A dead node's kubelet never confirms: the pod stays Terminating (until a force delete).
      if (!sim_dead_nodes_.count(StringField(ObjectOrEmpty(*pod, "spec"), "nodeName"))) {
        json copy = *pod;
        RemoveObject(*pod_type, copy);
        removed = true;
      }
    }
    it = pending_pod_deletions_.erase(it);
  }
  // An owner deleted in the foreground waits for these pods: its finalizer goes now.
  if (removed) RunGarbageCollection();

  if (sim_nodes_changed_) {
    sim_node_order_.clear();
    for (const auto& [name, node] : sim_nodes_) sim_node_order_.push_back(&node);
    std::sort(sim_node_order_.begin(), sim_node_order_.end(), [](const SimNode* a, const SimNode* b) {
      return a->name.size() != b->name.size() ? a->name.size() < b->name.size() : a->name < b->name;
    });
    sim_nodes_changed_ = false;
  }

  // The pods this pass visits, in creation order. Any other pod would be left as it is: it is
  // unchanged since its last visit, which left it waiting on a timer that is not due, for
  // capacity that has not changed, or for nothing the simulator does.
  std::set<SimOrderedPod> visit = std::move(sim_touched_);
  sim_touched_.clear();
  for (auto t = sim_timers_.begin(); t != sim_timers_.end() && t->first <= now; ++t) {
    auto info = sim_pod_index_.find(t->second);
    if (info != sim_pod_index_.end()) visit.emplace(info->second.order_key, t->second);
  }
  // Pods that fit nowhere are tried again when a node or the capacity held on one changed;
  // once that happens mid-pass (a pod bound), also the remaining ones of this pass, as a scan
  // of every pod would (the earlier ones are tried next pass).
  bool retried = false;
  if (sim_capacity_changed_) {
    sim_capacity_changed_ = false;
    visit.insert(sim_unschedulable_.begin(), sim_unschedulable_.end());
    retried = true;
  }
  sim_defer_release_ = true;
  for (const auto& [order_key, key] : visit) {
    auto info = sim_pod_index_.find(key);
    if (info == sim_pod_index_.end() || info->second.order_key != order_key) continue;
    try {
      SimulatePodLocked(key, info->second, now, now_text, &next_wake);
    } catch (const std::exception& e) {
      // A pod with malformed fields; it is visited again when it is next written.
      std::fprintf(stderr, "ringleader-testapiserver: simulator skipped pod %s: %s\n", key.c_str(), e.what());
    }
    if (sim_capacity_changed_ && !retried) {
      visit.insert(sim_unschedulable_.begin(), sim_unschedulable_.end());
      retried = true;
    }
  }
  sim_defer_release_ = false;
  for (const auto& [node, requests] : sim_deferred_release_) AddRequests(sim_used_[node], requests, -1);
  if (!sim_deferred_release_.empty()) sim_capacity_changed_ = true;
  sim_deferred_release_.clear();
  if (!sim_timers_.empty()) next_wake = std::min(next_wake, sim_timers_.begin()->first);
  return next_wake;
}

void TestApiServer::Impl::SimWaitLocked(const SimVisit& visit, std::chrono::steady_clock::time_point due) {
  visit.info.timer = due;
  sim_timers_.emplace(due, visit.key);
  *visit.next_wake = std::min(*visit.next_wake, due);
}

void TestApiServer::Impl::SimulatePodLocked(const std::string& key, SimPod& info,
                                            std::chrono::steady_clock::time_point now, const std::string& now_text,
                                            std::chrono::steady_clock::time_point* next_wake) {
  // This visit decides afresh. A Commit below refreshes `info` in place (SimObservePodLocked)
  // and queues the pod for the next pass; what the visit registers comes after it.
  if (info.unschedulable) sim_unschedulable_.erase({info.order_key, key});
  if (info.timer) sim_timers_.erase({*info.timer, key});
  info.unschedulable = false;
  info.timer.reset();
  auto pod_objs = objects_.find("/pods");
  if (pod_objs == objects_.end()) return;
  auto it = pod_objs->second.find(key);
  if (it == pod_objs->second.end()) return;
  const json& pod = it->second;
  if (pod["metadata"].contains("deletionTimestamp")) return;
  const json& spec = ObjectOrEmpty(pod, "spec");
  std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
  std::string node_name = spec.value("nodeName", "");
  if (!node_name.empty() && sim_dead_nodes_.count(node_name)) return;  // its kubelet is gone
  const SimVisit visit{key, info, now, now_text, next_wake};
  if (phase == "Pending" && node_name.empty()) {
    SchedulePodLocked(visit, pod);
    return;
  }
  if (phase == "Pending") {
    if (!StartPodLocked(visit, pod)) return;
    phase = "Running";
  }
  if (phase == "Running") FinishPodLocked(visit, pod);
}

void TestApiServer::Impl::SchedulePodLocked(const SimVisit& visit, const json& pod) {
  const json& spec = ObjectOrEmpty(pod, "spec");
  if (spec.contains("schedulingGates") && !spec["schedulingGates"].empty()) return;
  std::string scheduler = spec.value("schedulerName", "default-scheduler");
  if (scheduler != "default-scheduler" &&
      std::find(options_.simulate_schedulers.begin(), options_.simulate_schedulers.end(), scheduler) ==
          options_.simulate_schedulers.end()) {
    return;
  }
  Resources want = visit.info.requests;  // PodRequests(pod), from its last write
  std::map<std::string, int> reasons;
  const SimNode* chosen = nullptr;
  for (const SimNode* n : sim_node_order_) {
    std::string why = FitFailure(pod, *n, want);
    if (why.empty()) {
      chosen = n;
      break;
    }
    ++reasons[why];
  }
  json updated = pod;
  json old = pod;
  if (chosen != nullptr) {
    // Commit counts the requests on the node (SimObservePodLocked).
    updated["spec"]["nodeName"] = chosen->name;
    SetPodCondition(updated["status"], "PodScheduled", "True", "", "", visit.now_text);
    sim_pods_[pod["metadata"].value("uid", std::string())].bound_at = visit.now;
    *visit.next_wake = std::min(*visit.next_wake, visit.now + options_.pod_start_delay);
  } else {
    std::string message = "0/" + std::to_string(sim_node_order_.size()) + " nodes are available";
    if (sim_node_order_.empty()) {
      message += ": no nodes available to schedule pods.";
    } else {
      std::string parts;
      for (const auto& [why, count] : reasons) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(count) + " " + why;
      }
      message += ": " + parts + ".";
    }
    SetPodCondition(updated["status"], "PodScheduled", "False", "Unschedulable", message, visit.now_text);
  }
  if (updated != old) Commit(*FindType("", "v1", "pods"), "MODIFIED", updated, &old);
  if (chosen == nullptr) {
    visit.info.unschedulable = true;
    sim_unschedulable_.emplace(visit.info.order_key, visit.key);
  }
}

}  // namespace ringleader::testapi
