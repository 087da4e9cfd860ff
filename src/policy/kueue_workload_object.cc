// The Workload object of a Kueue-managed TrainingJob: its name, the object the operator
// creates (BuildWorkload), what is read back of it (ReadWorkload), and the placement an
// admission grants the pods (PlacementFor, ApplyPlacement). The decision that drives it,
// DecideWithKueue, is in kueue_workload.cc.
#include <algorithm>
#include <cstdio>

#include "ringleader/common/json_fields.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/kueue_workload.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using nlohmann::json;

namespace {

const std::string& Str(const json& object, const char* key) { return json_fields::StringRef(object, key); }

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

std::map<std::string, std::string> StringMap(const json& object) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  for (const auto& [k, v] : object.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

// Merges `from` into `into` keeping `into`'s values; with `strict`, a key both set to
// different values is an error (Kueue's utilmaps.HaveConflict).
Status MergeKeepFirst(std::map<std::string, std::string>& into, const std::map<std::string, std::string>& from,
                      const char* what, bool strict) {
  for (const auto& [k, v] : from) {
    auto it = into.find(k);
    if (it == into.end()) {
      into[k] = v;
    } else if (strict && it->second != v) {
      return InvalidArgumentError(std::string("conflict for ") + what + ": key " + k + " has value \"" + it->second +
                                  "\", the admission wants \"" + v + "\"");
    }
  }
  return Status::Ok();
}

void AddTolerations(json& into, const json& from) {
  if (!from.is_array()) return;
  if (!into.is_array()) into = json::array();
  for (const json& t : from) {
    if (std::find(into.begin(), into.end(), t) == into.end()) into.push_back(t);
  }
}

// The Pod template of the pod set: the Pod the operator creates for rank 0, less what names
// one Pod (name, rank and attempt labels) and the operator's own gang gate.
json PodSetTemplate(const api::TrainingJob& job) {
  json pod = BuildWorkerPod(job, 0, 0);
  json meta = json::object();
  if (pod["metadata"].contains("labels")) {
    json labels = pod["metadata"]["labels"];
    labels.erase(kRankLabel);
    labels.erase(kAttemptLabel);
    meta["labels"] = labels;
  }
  if (pod["metadata"].contains("annotations")) meta["annotations"] = pod["metadata"]["annotations"];
  json spec = pod["spec"];
  if (spec.contains("schedulingGates") && spec["schedulingGates"].is_array()) {
    json gates = json::array();
    for (const json& g : spec["schedulingGates"]) {
      if (!g.is_object() || Str(g, "name") != kGangSchedulingGate) gates.push_back(g);
    }
    if (gates.empty()) {
      spec.erase("schedulingGates");
    } else {
      spec["schedulingGates"] = gates;
    }
  }
  return {{"metadata", meta}, {"spec", spec}};
}

json PodSets(const api::TrainingJob& job) {
  return json::array({{{"name", kWorkersPodSet}, {"count", job.spec.workers}, {"template", PodSetTemplate(job)}}});
}

}  // namespace

std::string KueueQueueName(const api::TrainingJob& job) {
  auto it = job.metadata.labels.find(kKueueQueueNameLabel);
  return it == job.metadata.labels.end() ? "" : it->second;
}

std::string WorkloadName(const api::TrainingJob& job) {
  std::string prefix = "trainingjob-" + job.metadata.name;
  constexpr size_t kMax = 253 - 6;
  if (prefix.size() > kMax) prefix.resize(kMax);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + "-" +
         Hex(Fnv1a(std::string(api::kKind) + "." + api::kGroup + "/" + job.metadata.name + "/" + job.metadata.uid), 5);
}

std::string WorkerPriorityClassName(const api::TrainingJob& job) {
  const json& tmpl = job.spec.pod_template;
  if (tmpl.contains("spec") && tmpl["spec"].is_object()) {
    const std::string& own = Str(tmpl["spec"], "priorityClassName");
    if (!own.empty()) return own;
  }
  return job.spec.gang.priority_class_name;
}

std::string WorkloadSpecHash(const api::TrainingJob& job) {
  // What the pod set is built from, not the built pod set: a newer operator that builds Pods
  // differently must not replace every queued Workload (and lose its place in the queue).
  return Hex(Fnv1a(std::to_string(job.spec.workers) + "\n" + job.spec.pod_template.dump() + "\n" + KueueQueueName(job) +
                   "\n" + WorkerPriorityClassName(job)),
             16);
}

json BuildWorkload(const api::TrainingJob& job, std::optional<int32_t> priority) {
  json meta = {{"name", WorkloadName(job)},
               {"namespace", job.metadata.namespace_.empty() ? "default" : job.metadata.namespace_},
               {"labels", {{kJobNameLabel, job.metadata.name}}},
               {"annotations", {{kWorkloadSpecHashAnnotation, WorkloadSpecHash(job)}}},
               {"ownerReferences", json::array({OwnerReference(job)})}};
  if (!job.metadata.uid.empty()) meta["labels"][kKueueJobUidLabel] = job.metadata.uid;
  json spec = {{"podSets", PodSets(job)}, {"queueName", KueueQueueName(job)}};
  const std::string priority_class = WorkerPriorityClassName(job);
  if (!priority_class.empty()) {
    spec["priorityClassRef"] = {{"group", "scheduling.k8s.io"}, {"kind", "PriorityClass"}, {"name", priority_class}};
  }
  if (priority) spec["priority"] = *priority;
  return {{"apiVersion", kKueueApiVersion}, {"kind", "Workload"}, {"metadata", meta}, {"spec", spec}};
}

std::string WorkloadView::FlavorsText() const {
  std::string out;
  for (const PodSetAssignment& a : assignments) {
    for (const auto& [resource, flavor] : a.flavors) out += (out.empty() ? "" : ", ") + resource + "=" + flavor;
  }
  return out;
}

WorkloadView ReadWorkload(const json& workload) {
  WorkloadView wl;
  const json& meta = json_fields::ObjectOrEmpty(workload, "metadata");
  wl.name = Str(meta, "name");
  wl.uid = Str(meta, "uid");
  wl.resource_version = Str(meta, "resourceVersion");
  wl.generation = json_fields::IntField(meta, "generation").value_or(0);
  wl.deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  wl.spec_hash = Str(json_fields::ObjectOrEmpty(meta, "annotations"), kWorkloadSpecHashAnnotation);
  const json& status = json_fields::ObjectOrEmpty(workload, "status");
  wl.status = status;
  for (const json& c : json_fields::ArrayOrEmpty(status, "conditions")) {
    if (!c.is_object() || Str(c, "type").empty()) continue;
    wl.conditions[Str(c, "type")] = {Str(c, "status"), Str(c, "reason"), Str(c, "message")};
  }
  const json& admission = json_fields::ObjectOrEmpty(status, "admission");
  wl.cluster_queue = Str(admission, "clusterQueue");
  for (const json& a : json_fields::ArrayOrEmpty(admission, "podSetAssignments")) {
    if (!a.is_object()) continue;
    PodSetAssignment psa;
    psa.name = Str(a, "name").empty() ? "main" : Str(a, "name");
    psa.flavors = StringMap(json_fields::ObjectOrEmpty(a, "flavors"));
    if (auto count = json_fields::IntField(a, "count")) psa.count = static_cast<int32_t>(*count);
    wl.assignments.push_back(std::move(psa));
  }
  return wl;
}

StatusOr<PodPlacement> PlacementFor(const WorkloadView& workload, const std::map<std::string, json>& flavors) {
  PodPlacement placement;
  placement.labels[kKueuePodSetLabel] = kWorkersPodSet;
  for (const PodSetAssignment& a : workload.assignments) {
    if (a.name != kWorkersPodSet) continue;
    std::vector<std::string> seen;
    for (const auto& [resource, name] : a.flavors) {
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
      seen.push_back(name);
      auto it = flavors.find(name);
      if (it == flavors.end()) return NotFoundError("ResourceFlavor " + name + " not found");
      const json& spec = json_fields::ObjectOrEmpty(it->second, "spec");
      RETURN_IF_ERROR(MergeKeepFirst(placement.node_selector, StringMap(json_fields::ObjectOrEmpty(spec, "nodeLabels")),
                                     "nodeSelector", /*strict=*/false));
      AddTolerations(placement.tolerations, json_fields::ArrayOrEmpty(spec, "tolerations"));
    }
  }
  // Admission checks may ask for more (ProvisioningRequest: node selectors, tolerations).
  for (const json& check : json_fields::ArrayOrEmpty(workload.status, "admissionChecks")) {
    for (const json& update : json_fields::ArrayOrEmpty(check, "podSetUpdates")) {
      if (Str(update, "name") != kWorkersPodSet) continue;
      const std::string where = " (admission check " + Str(check, "name") + ")";
      Status s =
          MergeKeepFirst(placement.labels, StringMap(json_fields::ObjectOrEmpty(update, "labels")), "labels", true);
      if (s.ok()) {
        s = MergeKeepFirst(placement.annotations, StringMap(json_fields::ObjectOrEmpty(update, "annotations")),
                           "annotations", true);
      }
      if (s.ok()) {
        s = MergeKeepFirst(placement.node_selector, StringMap(json_fields::ObjectOrEmpty(update, "nodeSelector")),
                           "nodeSelector", true);
      }
      if (!s.ok()) return InvalidArgumentError(s.message() + where);
      AddTolerations(placement.tolerations, json_fields::ArrayOrEmpty(update, "tolerations"));
    }
  }
  return placement;
}

Status ApplyPlacement(const PodPlacement& placement, json& pod) {
  json& meta = pod["metadata"];
  json& spec = pod["spec"];
  auto merge = [](json& target, const std::map<std::string, std::string>& from, const char* what) -> Status {
    if (from.empty()) return Status::Ok();
    std::map<std::string, std::string> current = StringMap(target.is_object() ? target : json::object());
    RETURN_IF_ERROR(MergeKeepFirst(current, from, what, /*strict=*/true));
    target = json::object();
    for (const auto& [k, v] : current) target[k] = v;
    return Status::Ok();
  };
  RETURN_IF_ERROR(merge(meta["labels"], placement.labels, "labels"));
  if (!placement.annotations.empty()) RETURN_IF_ERROR(merge(meta["annotations"], placement.annotations, "annotations"));
  if (!placement.node_selector.empty()) {
    RETURN_IF_ERROR(merge(spec["nodeSelector"], placement.node_selector, "nodeSelector"));
  }
  if (!placement.tolerations.empty()) {
    json tolerations = spec.contains("tolerations") ? spec["tolerations"] : json::array();
    AddTolerations(tolerations, placement.tolerations);
    spec["tolerations"] = tolerations;
  }
  return Status::Ok();
}

}  // namespace ringleader::controller
