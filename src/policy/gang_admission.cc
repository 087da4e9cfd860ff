#include "ringleader/policy/gang_admission.h"

#include <algorithm>
#include <map>

#include "ringleader/common/json_fields.h"

namespace ringleader::controller {

using nlohmann::json;

namespace {

constexpr const char* kPodsResource = "pods";

bool Tolerates(const json& tolerations, const Taint& taint) {
  if (!tolerations.is_array()) return false;
  for (const auto& t : tolerations) {
    if (!t.is_object()) continue;
    std::string effect = t.value("effect", "");
    if (!effect.empty() && effect != taint.effect) continue;
    std::string op = t.value("operator", "Equal");
    std::string key = t.value("key", "");
    if (key.empty() && op == "Exists") return true;  // tolerates everything
    if (key != taint.key) continue;
    if (op == "Exists" || t.value("value", "") == taint.value) return true;
  }
  return false;
}

bool Eligible(const NodeCapacity& node, const PodDemand& pod) {
  if (!node.ready || node.unschedulable) return false;
  for (const auto& [k, v] : pod.node_selector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) return false;
  }
  for (const Taint& taint : node.taints) {
    if ((taint.effect == "NoSchedule" || taint.effect == "NoExecute") && !Tolerates(pod.tolerations, taint)) {
      return false;
    }
  }
  return true;
}

bool FitsOn(const api::ResourceList& free, const api::ResourceList& requests) {
  for (const auto& [name, amount] : requests) {
    if (amount <= 0) continue;
    auto it = free.find(name);
    if (it == free.end() || it->second < amount) return false;
  }
  return true;
}

void Take(api::ResourceList& free, const api::ResourceList& requests) {
  for (const auto& [name, amount] : requests) free[name] -= amount;
}

// Places `count` pods first-fit, from node *first on (nodes before it cannot take one); returns
// how many were placed and leaves *first at the first node that still may. With `taken`,
// records how many went to each node (to give them back).
int64_t Place(std::vector<api::ResourceList>& free, const std::vector<NodeCapacity>& nodes,
              const PodDemand& pod, int64_t count, size_t* first,
              std::vector<std::pair<size_t, int64_t>>* taken = nullptr) {
  if (*first >= nodes.size() || count <= 0) return 0;  // this shape fits nowhere any more
  api::ResourceList need = RequestsWithPodSlot(pod.requests);
  int64_t placed = 0;
  size_t i = *first;
  for (; i < nodes.size() && placed < count; ++i) {
    if (!Eligible(nodes[i], pod)) continue;
    int64_t here = 0;
    while (placed < count && FitsOn(free[i], need)) {
      Take(free[i], need);
      ++placed;
      ++here;
    }
    if (taken != nullptr && here > 0) taken->emplace_back(i, here);
    if (placed == count) break;  // node i may have room left
  }
  // Every node before i is ineligible or too full for one more pod of this shape.
  *first = std::min(i, nodes.size());
  return placed;
}

}  // namespace

std::string FormatResourceAmount(const std::string& resource, int64_t milli) {
  if (resource == "memory" || resource == "ephemeral-storage") {
    int64_t bytes = milli / 1000;
    constexpr int64_t kGi = 1LL << 30, kMi = 1LL << 20;
    if (bytes % kGi == 0) return std::to_string(bytes / kGi) + "Gi";
    if (bytes % kMi == 0) return std::to_string(bytes / kMi) + "Mi";
    return std::to_string(bytes);
  }
  return api::FormatQuantityMilli(milli);
}

NodeCapacity NodeCapacityFromJson(const json& node) {
  NodeCapacity n;
  const json meta = node.value("metadata", json::object());
  n.name = meta.value("name", "");
  if (meta.contains("labels") && meta["labels"].is_object()) {
    for (auto it = meta["labels"].begin(); it != meta["labels"].end(); ++it) {
      if (it.value().is_string()) n.labels[it.key()] = it.value().get<std::string>();
    }
  }
  const json spec = node.value("spec", json::object());
  n.unschedulable = spec.value("unschedulable", false);
  if (spec.contains("taints") && spec["taints"].is_array()) {
    for (const auto& t : spec["taints"]) {
      n.taints.push_back({t.value("key", ""), t.value("value", ""), t.value("effect", "")});
    }
  }
  const json status = node.value("status", json::object());
  if (status.contains("allocatable") && status["allocatable"].is_object()) {
    for (auto it = status["allocatable"].begin(); it != status["allocatable"].end(); ++it) {
      std::optional<int64_t> q;
      if (it.value().is_string()) q = api::ParseQuantityMilli(it.value().get<std::string>());
      else if (it.value().is_number()) q = static_cast<int64_t>(it.value().get<double>() * 1000);
      if (q) n.allocatable[it.key()] = *q;
    }
  }
  if (status.contains("conditions") && status["conditions"].is_array()) {
    for (const auto& c : status["conditions"]) {
      if (c.value("type", "") == "Ready") n.ready = c.value("status", "") == "True";
    }
  }
  return n;
}

PodDemand PodDemandFromSpec(const json& pod_spec) {
  PodDemand d;
  d.requests = api::PodRequests(pod_spec);
  if (pod_spec.contains("nodeSelector") && pod_spec["nodeSelector"].is_object()) {
    for (auto it = pod_spec["nodeSelector"].begin(); it != pod_spec["nodeSelector"].end(); ++it) {
      if (it.value().is_string()) d.node_selector[it.key()] = it.value().get<std::string>();
    }
  }
  if (pod_spec.contains("tolerations") && pod_spec["tolerations"].is_array()) d.tolerations = pod_spec["tolerations"];
  for (const auto& [name, amount] : d.requests) d.shape += name + "=" + std::to_string(amount) + ";";
  d.shape += "|";
  for (const auto& [key, value] : d.node_selector) d.shape += key + "=" + value + ";";
  d.shape += "|" + d.tolerations.dump();
  return d;
}

// By reference: admission looks at every cached pod for every gang it checks, and
// json::value("spec", ...) would copy each pod's spec.
bool HoldsCapacity(const json& pod) {
  if (json_fields::StringField(json_fields::ObjectOrEmpty(pod, "spec"), "nodeName").empty()) return false;
  std::string phase = json_fields::StringField(json_fields::ObjectOrEmpty(pod, "status"), "phase");
  return phase != "Succeeded" && phase != "Failed";
}

api::ResourceList RequestsWithPodSlot(api::ResourceList requests) {
  requests[kPodsResource] += 1000;
  return requests;
}

BoundPod BoundPodFromJson(const json& pod) {
  const json& spec = json_fields::ObjectOrEmpty(pod, "spec");
  return {json_fields::StringField(spec, "nodeName"), api::PodRequests(spec)};
}

FreeCapacity::FreeCapacity(const std::vector<NodeCapacity>& nodes, const std::vector<BoundPod>& bound)
    : nodes_(std::make_shared<const std::vector<NodeCapacity>>(nodes)), free_(nodes.size()) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    free_[i] = nodes[i].allocatable;
    index[nodes[i].name] = i;
  }
  for (const BoundPod& b : bound) {
    auto it = index.find(b.node_name);
    if (it != index.end()) Take(free_[it->second], RequestsWithPodSlot(b.requests));
  }
}

FreeCapacity::FreeCapacity(const std::vector<NodeCapacity>& nodes,
                           const std::map<std::string, api::ResourceList>& held_by_node)
    : FreeCapacity(std::make_shared<const std::vector<NodeCapacity>>(nodes), held_by_node) {}

FreeCapacity::FreeCapacity(std::shared_ptr<const std::vector<NodeCapacity>> nodes,
                           const std::map<std::string, api::ResourceList>& held_by_node)
    : nodes_(std::move(nodes)), free_(nodes_->size()) {
  for (size_t i = 0; i < nodes_->size(); ++i) {
    free_[i] = (*nodes_)[i].allocatable;
    auto held = held_by_node.find((*nodes_)[i].name);
    if (held != held_by_node.end()) Take(free_[i], held->second);
  }
}

size_t* FreeCapacity::FirstOpen(const PodDemand& pod, size_t* scratch) {
  *scratch = 0;
  return pod.shape.empty() ? scratch : &first_open_[pod.shape];
}

void FreeCapacity::Reserve(const PodDemand& pod, int64_t unbound_pods) {
  size_t scratch;
  Place(free_, *nodes_, pod, unbound_pods, FirstOpen(pod, &scratch));
}

int64_t FreeCapacity::PlaceGang(const PodDemand& pod, int64_t workers, bool keep) {
  size_t scratch;
  size_t* first = FirstOpen(pod, &scratch);
  const size_t first_before = *first;
  std::vector<std::pair<size_t, int64_t>> taken;
  int64_t placed = Place(free_, *nodes_, pod, workers, first, &taken);
  if (placed >= workers && keep) return placed;
  // Give the trial's pods back (cheaper than placing on a copy of every node's free list),
  // and with them the nodes the trial filled.
  api::ResourceList need = RequestsWithPodSlot(pod.requests);
  for (const auto& [node, count] : taken) {
    for (const auto& [name, amount] : need) free_[node][name] += amount * count;
  }
  *first = first_before;
  return placed;
}

bool FreeCapacity::Admit(const PodDemand& pod, int64_t workers, bool commit) {
  if (!pod.shape.empty()) {
    // Free capacity only shrinks: a shape that could not place n workers never places more.
    auto failed = fails_from_.find(pod.shape);
    if (failed != fails_from_.end() && workers >= failed->second) return false;
  }
  bool fits = PlaceGang(pod, workers, commit) >= workers;
  if (!fits && !pod.shape.empty()) {
    auto [it, inserted] = fails_from_.try_emplace(pod.shape, workers);
    if (!inserted) it->second = std::min(it->second, workers);
  }
  return fits;
}

AdmissionResult FreeCapacity::TryAdmit(const PodDemand& pod, int64_t workers, bool commit) {
  int64_t placed = PlaceGang(pod, workers, commit);
  if (placed >= workers) return {true, "all " + std::to_string(workers) + " workers fit"};
  // Aggregate view for the message, before this gang is placed.
  api::ResourceList total_free;
  size_t eligible_nodes = 0;
  for (size_t i = 0; i < nodes_->size(); ++i) {
    if (!Eligible((*nodes_)[i], pod)) continue;
    ++eligible_nodes;
    for (const auto& [name, amount] : free_[i]) total_free[name] += std::max<int64_t>(amount, 0);
  }
  AdmissionResult result;
  if (eligible_nodes == 0) {
    result.message = "no Ready, schedulable node matches the workers' nodeSelector and tolerations";
    return result;
  }
  std::string shortages;
  for (const auto& [name, per_pod] : RequestsWithPodSlot(pod.requests)) {
    if (per_pod <= 0) continue;
    int64_t need = per_pod * workers;
    int64_t have = total_free.count(name) ? total_free[name] : 0;
    if (need > have) {
      if (!shortages.empty()) shortages += ", ";
      shortages += "needs " + FormatResourceAmount(name, need) + " " + name + ", " +
                   FormatResourceAmount(name, have) + " free";  // "pods" counts pod slots
    }
  }
  if (!shortages.empty()) {
    result.message = shortages;
  } else {
    // Enough in total, but not in pieces big enough for one worker each.
    result.message = "only " + std::to_string(placed) + " of " + std::to_string(workers) +
                     " workers fit on a single node each (free capacity is fragmented)";
  }
  return result;
}

AdmissionResult CheckGangFits(const std::vector<NodeCapacity>& nodes, const std::vector<BoundPod>& bound,
                              const std::vector<ReservedGang>& reserved, const PodDemand& pod,
                              int64_t workers) {
  FreeCapacity capacity(nodes, bound);
  for (const ReservedGang& r : reserved) capacity.Reserve(r);
  return capacity.TryAdmit(pod, workers, /*commit=*/false);
}

}  // namespace ringleader::controller
