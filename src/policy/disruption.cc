#include "ringleader/policy/disruption.h"

#include "ringleader/common/rfc3339.h"

namespace ringleader::controller {

using nlohmann::json;

namespace {

constexpr const char* kUnreachableTaint = "node.kubernetes.io/unreachable";
constexpr const char* kNotReadyTaint = "node.kubernetes.io/not-ready";
constexpr const char* kOutOfServiceTaint = "node.kubernetes.io/out-of-service";

bool Finished(const ObservedPod& pod) { return pod.phase == "Succeeded" || pod.phase == "Failed"; }

}  // namespace

NodeHealth NodeHealthFromJson(const json& node) {
  NodeHealth health;
  if (!node.is_object()) return health;
  auto add = [&](const std::string& why) {
    health.lost = true;
    health.why += (health.why.empty() ? "" : ", ") + why;
  };
  if (auto status = node.find("status"); status != node.end() && status->is_object()) {
    if (auto conditions = status->find("conditions"); conditions != status->end() && conditions->is_array()) {
      for (const json& c : *conditions) {
        if (!c.is_object() || c.value("type", "") != "Ready") continue;
        std::string value = c.contains("status") && c["status"].is_string() ? c["status"].get<std::string>() : "";
        if (value != "True") {
          std::string reason = c.contains("reason") && c["reason"].is_string() ? c["reason"].get<std::string>() : "";
          add("Ready=" + (value.empty() ? std::string("Unknown") : value) + (reason.empty() ? "" : " (" + reason + ")"));
        }
      }
    }
  }
  if (auto spec = node.find("spec"); spec != node.end() && spec->is_object()) {
    if (auto taints = spec->find("taints"); taints != spec->end() && taints->is_array()) {
      for (const json& t : *taints) {
        if (!t.is_object() || !t.contains("key") || !t["key"].is_string()) continue;
        const std::string& key = t["key"].get_ref<const std::string&>();
        std::string effect = t.contains("effect") && t["effect"].is_string() ? t["effect"].get<std::string>() : "";
        if (key == kOutOfServiceTaint) {
          health.out_of_service = true;
          add("taint " + key);
        } else if ((key == kUnreachableTaint || key == kNotReadyTaint) && effect == "NoExecute") {
          add("taint " + key);
        }
      }
    }
  }
  return health;
}

std::string DisruptionReason(const std::string& raw) {
  if (raw == "PreemptionByScheduler" || raw == "PreemptionByKubeScheduler") return "Preempted";
  if (raw == "EvictionByEvictionAPI" || raw == "TerminationByKubelet") return "Evicted";
  if (raw == "DeletionByTaintManager" || raw == "DeletionByPodGC") return "NodeLost";
  return raw.empty() ? "Disruption" : raw;
}

bool OnLostNode(const ObservedPod& pod, const LostNodes& lost_nodes) {
  return !pod.node_name.empty() && lost_nodes.count(pod.node_name) > 0;
}

std::optional<AttemptFailure> WorkerDisruption(const ObservedPod& pod, const LostNodes& lost_nodes) {
  if (Finished(pod)) return std::nullopt;  // a finished pod is judged by how it ended
  if (auto it = lost_nodes.find(pod.node_name); !pod.node_name.empty() && it != lost_nodes.end()) {
    return AttemptFailure{FailureKind::kDisruption, pod.rank, std::nullopt, "NodeLost",
                          "pod " + pod.name + " on node " + pod.node_name + " (" + it->second.why + ")"};
  }
  if (pod.disrupted) {
    std::string where = pod.node_name.empty() ? std::string(" (not yet on a node)") : " on node " + pod.node_name;
    return AttemptFailure{FailureKind::kDisruption, pod.rank, std::nullopt, DisruptionReason(pod.reason),
                          "pod " + pod.name + where};
  }
  return std::nullopt;
}

StuckPods FindStuckPods(const std::vector<ObservedPod>& pods, const LostNodes& lost_nodes,
                        std::chrono::system_clock::time_point now, std::chrono::milliseconds margin) {
  StuckPods out;
  for (const ObservedPod& p : pods) {
    if (!p.terminating || !OnLostNode(p, lost_nodes)) continue;
    const NodeHealth& node = lost_nodes.at(p.node_name);
    std::string why = "pod " + p.name + " was Terminating on node " + p.node_name + " (" + node.why + ")";
    if (node.out_of_service) {
      out.force_delete.push_back({p.name, why + ", which is out of service: its kubelet will not confirm the "
                                                "deletion, so it is force-deleted"});
      continue;
    }
    auto grace_end = ParseRfc3339(p.deletion_timestamp);
    if (!grace_end) continue;  // never seen without one; leave it rather than guess
    auto due = *grace_end + margin;
    if (now < due) {
      if (!out.next_check || due < *out.next_check) out.next_check = due;
      continue;
    }
    auto past = std::chrono::duration_cast<std::chrono::seconds>(now - *grace_end).count();
    out.force_delete.push_back({p.name, why + " " + std::to_string(past) +
                                            "s past its grace period: its kubelet cannot confirm the deletion, so "
                                            "it is force-deleted"});
  }
  return out;
}

}  // namespace ringleader::controller
