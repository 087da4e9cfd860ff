// Builtin gang admission for the reconciler: one decision over the whole cluster, from the
// node and pod caches, FIFO with bounded backfill (ReconcilerOptions::backfill_window).
#include <map>
#include <mutex>

#include "ringleader/common/rfc3339.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/controller/trainingjob_reconciler.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;

namespace {

using json_fields::MetadataString;

bool IsTerminalPhase(const std::optional<api::JobPhase>& phase) {
  return phase == api::JobPhase::kSucceeded || phase == api::JobPhase::kFailed;
}

// When the job's current attempt started waiting for Builtin capacity (Admitted=False with
// InsufficientCapacity; lastTransitionTime stays while it keeps waiting).
std::optional<std::chrono::system_clock::time_point> WaitingForCapacitySince(const api::TrainingJob& job) {
  const api::Condition* c = FindCondition(job.status.conditions, "Admitted");
  if (c == nullptr || c->status != "False" || c->reason != "InsufficientCapacity") return std::nullopt;
  return ParseRfc3339(c->last_transition_time);
}

}  // namespace

AdmissionResult TrainingJobReconciler::CheckAdmission(const api::TrainingJob& job) {
  if (caches_.nodes == nullptr) {
    return {true, "capacity check skipped: " + caches_.nodes_unavailable_reason};
  }
  const uint64_t pass = ++admission_pass_;
  // Nodes, parsed once per resourceVersion (parsing every node was the largest part of a
  // check), and the list rebuilt only when one changed.
  bool nodes_changed = node_snapshot_ == nullptr;
  for (const ObjectPtr& node : caches_.nodes->List()) {
    const std::string& rv = MetadataString(*node, "resourceVersion");
    auto [it, inserted] = node_cache_.try_emplace(MetadataString(*node, "name"));
    CachedNode& cached = it->second;
    if (inserted || rv.empty() || cached.resource_version != rv) {
      cached = {rv, NodeCapacityFromJson(*node), 0};
      nodes_changed = true;
    }
    cached.seen_in_pass = pass;
  }
  nodes_changed |= std::erase_if(node_cache_, [&](const auto& item) { return item.second.seen_in_pass != pass; }) > 0;
  if (nodes_changed) {
    auto fresh = std::make_shared<std::vector<NodeCapacity>>();
    for (const auto& [name, cached] : node_cache_) fresh->push_back(cached.node);
    node_snapshot_ = std::move(fresh);
  }
  const std::shared_ptr<const std::vector<NodeCapacity>> nodes = node_snapshot_;

  // Capacity held by bound pods, kept by the pod informers' events (no pass over the pods).
  BoundPodLedger::Snapshot held = bound_pods_.Take();
  auto bound_pods_of = [&](const std::string& uid) -> int64_t {
    auto it = held.bound_by_owner.find(uid);
    return it == held.bound_by_owner.end() ? 0 : it->second;
  };

  // Every other Builtin job, parsed when its event came, oldest first (job events wait while
  // the check reads them).
  const BuiltinJobIndex::View jobs = builtin_jobs_.Lock();

  FreeCapacity capacity(nodes, held.held_by_node);
  std::optional<FreeCapacity> empty_cluster;  // built only if an older gang is past the window
  for (const auto& [unused, entry] : jobs.in_order()) {
    if (!entry->holds_admission || entry->job.metadata.uid == job.metadata.uid) continue;
    int64_t unbound = entry->job.spec.workers - bound_pods_of(entry->job.metadata.uid);
    if (unbound > 0) capacity.Reserve(entry->demand, unbound);
  }
  // Admitted here, not yet visible as Admitted in the job cache.
  for (auto it = admitted_.begin(); it != admitted_.end();) {
    const BuiltinJobIndex::Entry* entry = jobs.Find(it->first);
    bool stale = entry == nullptr || entry->holds_admission || entry->job.status.attempt != it->second.attempt ||
                 IsTerminalPhase(entry->job.status.phase) || it->first == job.metadata.uid;
    if (stale) {
      it = admitted_.erase(it);
      continue;
    }
    int64_t unbound = it->second.workers - bound_pods_of(it->first);
    if (unbound > 0) capacity.Reserve(it->second.pod, unbound);
    ++it;
  }

  // Older jobs that are waiting go first when they fit. One that does not fit lets younger
  // ones pass (backfill) until it has waited backfill_window; then it holds the line, unless
  // it could not fit even an empty cluster (it would block everything forever).
  const AdmissionOrder order = AdmissionOrderOf(job);
  const auto now = Now();
  for (const auto& [unused, entry] : jobs.in_order()) {
    const api::TrainingJob& other = entry->job;
    if (!(entry->order < order)) break;
    if (entry->holds_admission || admitted_.count(other.metadata.uid)) continue;
    std::vector<ObservedPod> observed;
    for (const ObjectPtr& pod : PodsOwnedBy(other.metadata.uid)) observed.push_back(ObservePod(*pod));
    if (!NeedsAdmission(other, observed)) continue;
    if (capacity.Admit(entry->demand, other.spec.workers, /*commit=*/true)) continue;
    auto waiting_since = WaitingForCapacitySince(other);
    if (!waiting_since || now - *waiting_since < options_.backfill_window) continue;
    if (!empty_cluster) empty_cluster.emplace(nodes, std::map<std::string, api::ResourceList>{});
    if (!empty_cluster->Admit(entry->demand, other.spec.workers, /*commit=*/false)) continue;
    auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - *waiting_since).count();
    return {false, "queued behind " + other.metadata.namespace_ + "/" + other.metadata.name +
                       ", an older gang waiting for capacity for " + std::to_string(waited) +
                       "s (longer than the backfill window, so it goes first)"};
  }

  // This job's demand from the index when it holds the same spec (generation).
  const BuiltinJobIndex::Entry* own = jobs.Find(job.metadata.uid);
  const bool same_spec = own != nullptr && job.metadata.generation != 0 &&
                         own->job.metadata.generation == job.metadata.generation;
  PodDemand demand = same_spec ? own->demand : DemandOf(job);
  AdmissionResult result = capacity.TryAdmit(demand, job.spec.workers, /*commit=*/false);
  if (result.fits) admitted_[job.metadata.uid] = {demand, job.spec.workers, job.status.attempt};
  return result;
}

}  // namespace ringleader::controller
