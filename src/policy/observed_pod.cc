#include "ringleader/policy/observed_pod.h"

#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using nlohmann::json;

namespace {

int64_t LabelInt(const json& labels, const char* key) {
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return -1;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->get<std::string>(), &used);
    return used == it->get_ref<const std::string&>().size() ? v : -1;
  } catch (...) {
    return -1;
  }
}

}  // namespace

ObservedPod ObservePod(const json& pod) {
  ObservedPod p;
  const json& meta = pod.contains("metadata") ? pod["metadata"] : json::object();
  p.name = meta.value("name", "");
  const json labels = meta.contains("labels") && meta["labels"].is_object() ? meta["labels"] : json::object();
  p.rank = LabelInt(labels, kRankLabel);
  p.attempt = LabelInt(labels, kAttemptLabel);
  p.terminating = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  if (p.terminating && meta["deletionTimestamp"].is_string()) p.deletion_timestamp = meta["deletionTimestamp"];
  const json spec = pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : json::object();
  p.node_name = spec.value("nodeName", "");
  if (spec.contains("schedulingGates") && spec["schedulingGates"].is_array()) {
    for (const auto& g : spec["schedulingGates"]) {
      if (g.is_object() && g.value("name", "") == kGangSchedulingGate) p.gated = true;
    }
  }
  const json status = pod.contains("status") && pod["status"].is_object() ? pod["status"] : json::object();
  p.phase = status.value("phase", "Pending");
  if (status.contains("conditions") && status["conditions"].is_array()) {
    for (const auto& c : status["conditions"]) {
      if (c.value("type", "") == "Ready" && c.value("status", "") == "True") p.ready = true;
      // Kubernetes marks pods it kills for disruptions (eviction, preemption, node loss).
      if (c.value("type", "") == "DisruptionTarget" && c.value("status", "") == "True") {
        p.disrupted = true;
        if (p.reason.empty()) p.reason = c.value("reason", "Disruption");
      }
    }
  }
  std::string pod_reason = status.value("reason", "");
  if (pod_reason == "Evicted" || pod_reason == "Preempted" || pod_reason == "NodeLost" ||
      pod_reason == "Terminated" || pod_reason == "Shutdown" || pod_reason == "NodeShutdown") {
    p.disrupted = true;
    p.reason = pod_reason;
  }
  if (status.contains("containerStatuses") && status["containerStatuses"].is_array()) {
    // The first container that failed decides the exit code the restart policy sees.
    for (const auto& cs : status["containerStatuses"]) {
      if (!cs.contains("state") || !cs["state"].contains("terminated")) continue;
      const json& t = cs["state"]["terminated"];
      int code = t.value("exitCode", 0);
      if (!p.exit_code || (*p.exit_code == 0 && code != 0)) {
        p.exit_code = code;
        p.finished_at = t.value("finishedAt", "");
        if (!p.disrupted) p.reason = t.value("reason", code == 0 ? "Completed" : "Error");
      }
    }
  }
  if (p.reason.empty() && !pod_reason.empty()) p.reason = pod_reason;
  return p;
}

}  // namespace ringleader::controller
