#include "ringleader/controller/bound_pod_ledger.h"

#include "ringleader/common/json_fields.h"
#include "ringleader/policy/gang_admission.h"

namespace ringleader::controller {

void BoundPodLedger::RemoveLocked(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  const Entry& entry = it->second;
  auto node = totals_.held_by_node.find(entry.node);
  if (node != totals_.held_by_node.end()) {
    for (const auto& [name, amount] : entry.requests) {
      auto r = node->second.find(name);
      if (r != node->second.end() && (r->second -= amount) == 0) node->second.erase(r);
    }
    if (node->second.empty()) totals_.held_by_node.erase(node);
  }
  if (!entry.owner_uid.empty()) {
    auto owner = totals_.bound_by_owner.find(entry.owner_uid);
    if (owner != totals_.bound_by_owner.end() && --owner->second <= 0) totals_.bound_by_owner.erase(owner);
  }
  pods_.erase(it);
}

void BoundPodLedger::Observe(const nlohmann::json& pod) {
  std::string uid = json_fields::MetadataString(pod, "uid");
  if (uid.empty()) return;
  Entry entry;
  const bool holds = HoldsCapacity(pod);
  if (holds) {
    BoundPod bound = BoundPodFromJson(pod);
    entry.node = std::move(bound.node_name);
    entry.owner_uid = kube::ControllerOwnerUid(pod);
    api::ResourceList requests = RequestsWithPodSlot(bound.requests);
    entry.requests.assign(requests.begin(), requests.end());
  }
  std::lock_guard<std::mutex> lock(mu_);
  RemoveLocked(uid);
  if (!holds) return;
  api::ResourceList& held = totals_.held_by_node[entry.node];
  for (const auto& [name, amount] : entry.requests) held[name] += amount;
  if (!entry.owner_uid.empty()) totals_.bound_by_owner[entry.owner_uid] += 1;
  pods_.emplace(std::move(uid), std::move(entry));
}

void BoundPodLedger::Forget(const nlohmann::json& pod) {
  std::string uid = json_fields::MetadataString(pod, "uid");
  std::lock_guard<std::mutex> lock(mu_);
  RemoveLocked(uid);
}

kube::EventHandlers BoundPodLedger::Handlers() {
  return kube::MirrorHandlers([this](const nlohmann::json& pod) { Observe(pod); },
                              [this](const nlohmann::json& pod) { Forget(pod); });
}

BoundPodLedger::Snapshot BoundPodLedger::Take() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

size_t BoundPodLedger::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pods_.size();
}

}  // namespace ringleader::controller
