// A small stand-in for Kueue's scheduler (--simulate-kueue), for tests of a job integration:
// it admits kueue.x-k8s.io/v1beta2 Workloads against ClusterQueue quotas and writes what
// Kueue writes, so that an integration sees the same objects and watch events as with Kueue.
// It acts once the Workload, LocalQueue, ClusterQueue and ResourceFlavor CRDs are registered
// (tests/e2e/data/kueue-crds.yaml), so a test can install them late.
//
// Per pass, under the store lock (woken by writes to kueue.x-k8s.io objects):
//   - usage: every Workload with QuotaReserved=True and not Finished holds its
//     status.admission resourceUsage in its ClusterQueue, per flavor and resource;
//   - an admitted Workload with spec.active=false is evicted (Evicted=True/Deactivated);
//   - pending Workloads (active, not finished, no quota reserved), highest spec.priority
//     first, then oldest: LocalQueue → ClusterQueue (missing ones: QuotaReserved=False/
//     Inadmissible "LocalQueue q doesn't exist"); each pod set's requests (count × the
//     template's container requests, limits when requests are absent) get, per resource group,
//     the first flavor in ClusterQueue order that has the nominal quota left for all of them and
//     whose nodeLabels agree with the template's nodeSelector and whose NoSchedule/NoExecute
//     nodeTaints are tolerated (by the template or the flavor's tolerations). Fits: status.
//     admission (clusterQueue, podSetAssignments with flavors, resourceUsage, count),
//     QuotaReserved=True/QuotaReserved "Quota reserved in ClusterQueue cq", Admitted=True/
//     Admitted, Evicted and Preempted reset to False ("Previously: ..."), as
//     workload.SetQuotaReservation and SyncAdmittedCondition do. Does not fit:
//     QuotaReserved=False/Pending "couldn't assign flavors to pod set P: insufficient unused
//     quota for R in flavor F, N more needed" (written when it changes);
//   - preemption (spec.preemption.withinClusterQueue LowerPriority or
//     LowerOrNewerEqualPriority): when evicting lower-priority admitted Workloads of the same
//     ClusterQueue (lowest priority, then most recently admitted, first) makes room, they get
//     Evicted=True/Preempted and Preempted=True/InClusterQueue "Preempted to accommodate a
//     workload (UID: u, JobUID: j) due to prioritization in the ClusterQueue"; their quota stays
//     reserved until their job integration gives it back (QuotaReserved=False), as with Kueue;
//   - queueingStrategy StrictFIFO: a Workload that does not fit holds back the younger ones.
// Not modelled: cohorts and borrowing, fair sharing, admission checks, partial admission,
// topology, namespaceSelector, stop policies, waitForPodsReady timeouts.

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>

#include "ringleader/common/json_fields.h"
#include "kueue_quota.h"
#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr char kGroup[] = "kueue.x-k8s.io";
constexpr char kVersion[] = "v1beta2";

using json_fields::ArrayOrEmpty;
using json_fields::ObjectOrEmpty;
using json_fields::StringField;
using namespace kueue_quota;  // NOLINT(google-build-using-namespace): this file's vocabulary

bool ConditionTrue(const json& status, const std::string& type) {
  for (const json& c : ArrayOrEmpty(status, "conditions")) {
    if (StringField(c, "type") == type) return StringField(c, "status") == "True";
  }
  return false;
}

const json* FindCondition(const json& status, const std::string& type) {
  for (const json& c : ArrayOrEmpty(status, "conditions")) {
    if (StringField(c, "type") == type) return &c;
  }
  return nullptr;
}

// apimeta.SetStatusCondition: lastTransitionTime changes only with status. (The operator has
// its own, SetWorkloadCondition: this stand-in for Kueue shares no code with what it tests.)
void SetCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                  const std::string& message, const std::string& now, int64_t generation) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (json& c : status["conditions"]) {
    if (StringField(c, "type") != type) continue;
    if (StringField(c, "status") != value) c["lastTransitionTime"] = now;
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["observedGeneration"] = generation;
    return;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", value},
                                  {"reason", reason},
                                  {"message", message},
                                  {"lastTransitionTime", now},
                                  {"observedGeneration", generation}});
}

// workload.resetActiveCondition: a True condition turns False with "Previously: ...".
void ResetActive(json& status, const std::string& type, const std::string& reason, const std::string& now,
                 int64_t generation) {
  const json* c = FindCondition(status, type);
  if (c == nullptr || StringField(*c, "status") != "True") return;
  std::string previously = "Previously: " + StringField(*c, "message");
  SetCondition(status, type, "False", reason, previously, now, generation);
}

int64_t Generation(const json& object) {
  const json& meta = ObjectOrEmpty(object, "metadata");
  return meta.contains("generation") && meta["generation"].is_number_integer() ? meta["generation"].get<int64_t>() : 0;
}

int32_t Priority(const json& wl) {
  const json& spec = ObjectOrEmpty(wl, "spec");
  return spec.contains("priority") && spec["priority"].is_number_integer() ? spec["priority"].get<int32_t>() : 0;
}

// A Workload waiting for quota, in Kueue's queue order (priority, then age, then key).
struct PendingWorkload {
  int32_t priority;
  std::string created;
  std::string key;
};

bool QueuedBefore(const PendingWorkload& a, const PendingWorkload& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.created != b.created) return a.created < b.created;
  return a.key < b.key;
}

// What a ClusterQueue's withinClusterQueue preemption needs to fit `needs`.
struct PreemptionInput {
  const std::map<std::string, json>& workloads;
  const std::string& cq_name;
  const json& cq;
  const std::string& policy;  // LowerPriority or LowerOrNewerEqualPriority
  const Usage& usage;         // the ClusterQueue's current usage
  const std::map<std::string, json>& flavors;
};

// The keys of the admitted Workloads to evict so that `p` fits (those already evicted are
// counted as freed but not evicted again), or nullopt when no set of victims makes room.
// Victims: lower priority (or, under LowerOrNewerEqualPriority, equal and newer), those on
// their way out first, then lowest priority, then most recently admitted.
std::optional<std::vector<std::string>> PreemptionVictims(const PreemptionInput& in, const PendingWorkload& p,
                                                          const std::vector<PodSetNeed>& needs) {
  struct Victim {
    int32_t priority;
    std::string admitted_at;
    std::string key;
    bool evicted;
  };
  std::vector<Victim> victims;
  for (const auto& [key, other] : in.workloads) {
    const json& st = ObjectOrEmpty(other, "status");
    if (!ConditionTrue(st, "QuotaReserved") || ConditionTrue(st, "Finished")) continue;
    if (StringField(ObjectOrEmpty(st, "admission"), "clusterQueue") != in.cq_name) continue;
    const int32_t prio = Priority(other);
    const bool lower =
        prio < p.priority || (in.policy == "LowerOrNewerEqualPriority" && prio == p.priority &&
                              StringField(ObjectOrEmpty(other, "metadata"), "creationTimestamp") > p.created);
    if (!lower) continue;
    const json* reserved = FindCondition(st, "QuotaReserved");
    victims.push_back(
        {prio, reserved ? StringField(*reserved, "lastTransitionTime") : "", key, ConditionTrue(st, "Evicted")});
  }
  std::sort(victims.begin(), victims.end(), [](const Victim& a, const Victim& b) {
    if (a.evicted != b.evicted) return a.evicted;  // those already on their way out first
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.admitted_at > b.admitted_at;
  });
  Usage without = in.usage;
  std::vector<std::string> chosen;
  for (const Victim& v : victims) {
    AddUsage(without, ObjectOrEmpty(ObjectOrEmpty(in.workloads.at(v.key), "status"), "admission"), -1);
    if (!v.evicted) chosen.push_back(v.key);
    std::vector<Assignment> ignored;
    std::string unused;
    if (AssignFlavors(needs, in.cq, without, in.flavors, &ignored, &unused)) return chosen;
  }
  return std::nullopt;
}

// The Evicted/Preempted message Kueue writes on the victims of `preemptor`.
std::string PreemptionMessage(const json& preemptor) {
  const json& meta = ObjectOrEmpty(preemptor, "metadata");
  const std::string job_uid = StringField(ObjectOrEmpty(meta, "labels"), "kueue.x-k8s.io/job-uid");
  return "Preempted to accommodate a workload (UID: " + StringField(meta, "uid") + ", JobUID: " + job_uid +
         ") due to prioritization in the ClusterQueue";
}

// One admitter pass over the store: the lookups it builds once and the usage it accumulates.
struct KueuePass {
  std::map<std::string, json>& workloads;
  const std::map<std::string, json>& local_queues;
  std::string now;
  // Commits a changed Workload to the store (a MODIFIED event).
  std::function<void(json& updated, json* old)> commit_modified;
  std::map<std::string, json> flavors;  // ResourceFlavors by name
  std::map<std::string, json> queues;   // ClusterQueues by name
  std::map<std::string, Usage> usage;   // ClusterQueue →

  void Commit(const std::string& key, json updated) {
    json old = workloads[key];
    if (updated != old) commit_modified(updated, &old);
  }
};

// Adds every reserving Workload to its ClusterQueue's usage (evicting those deactivated) and
// returns the Workloads that wait for quota, unsorted.
std::vector<PendingWorkload> CountReservedAndCollectPending(KueuePass& pass) {
  std::vector<PendingWorkload> pending;
  std::vector<std::string> keys;
  for (const auto& [key, wl] : pass.workloads) keys.push_back(key);
  for (const std::string& key : keys) {
    const json& wl = pass.workloads[key];
    const json& meta = ObjectOrEmpty(wl, "metadata");
    const json& status = ObjectOrEmpty(wl, "status");
    if (ConditionTrue(status, "Finished")) continue;
    const bool active = !ObjectOrEmpty(wl, "spec").contains("active") || wl["spec"]["active"] != false;
    if (ConditionTrue(status, "QuotaReserved")) {
      const json& admission = ObjectOrEmpty(status, "admission");
      AddUsage(pass.usage[StringField(admission, "clusterQueue")], admission, 1);
      if (!active && !ConditionTrue(status, "Evicted")) {
        json updated = wl;
        SetCondition(updated["status"], "Evicted", "True", "Deactivated", "The workload is deactivated", pass.now,
                     Generation(wl));
        pass.Commit(key, std::move(updated));
      }
      continue;
    }
    if (!active || meta.contains("deletionTimestamp")) continue;
    pending.push_back({Priority(wl), StringField(meta, "creationTimestamp"), key});
  }
  return pending;
}

// Admits `p` if its ClusterQueue has room, else preempts within it where the policy allows and
// marks `p` pending with the reason.
void TryAdmit(KueuePass& pass, const PendingWorkload& p, std::set<std::string>& held_back) {
  json wl = pass.workloads[p.key];
  const int64_t generation = Generation(wl);
  const std::string ns = StringField(ObjectOrEmpty(wl, "metadata"), "namespace");
  const std::string queue_name = StringField(ObjectOrEmpty(wl, "spec"), "queueName");
  auto pending_as = [&](const std::string& reason, const std::string& message) {
    json updated = wl;
    SetCondition(updated["status"], "QuotaReserved", "False", reason, message, pass.now, generation);
    pass.Commit(p.key, std::move(updated));
  };
  auto lq = pass.local_queues.find(ns + "/" + queue_name);
  if (lq == pass.local_queues.end()) {
    pending_as("Inadmissible", "LocalQueue " + queue_name + " doesn't exist");
    return;
  }
  const std::string cq_name = StringField(ObjectOrEmpty(lq->second, "spec"), "clusterQueue");
  auto cq = pass.queues.find(cq_name);
  if (cq == pass.queues.end()) {
    pending_as("Inadmissible", "ClusterQueue " + cq_name + " doesn't exist");
    return;
  }
  if (held_back.count(cq_name)) return;
  const json& cq_spec = ObjectOrEmpty(cq->second, "spec");
  std::vector<PodSetNeed> needs = NeedsOf(wl);
  std::vector<Assignment> assigned;
  std::string why;
  if (AssignFlavors(needs, cq->second, pass.usage[cq_name], pass.flavors, &assigned, &why)) {
    json admission = AdmissionOf(cq_name, assigned);
    AddUsage(pass.usage[cq_name], admission, 1);
    json updated = wl;
    json& st = updated["status"];
    st["admission"] = admission;
    SetCondition(st, "QuotaReserved", "True", "QuotaReserved", "Quota reserved in ClusterQueue " + cq_name, pass.now,
                 generation);
    SetCondition(st, "Admitted", "True", "Admitted", "The workload is admitted", pass.now, generation);
    ResetActive(st, "Evicted", "QuotaReserved", pass.now, generation);
    ResetActive(st, "Preempted", "QuotaReserved", pass.now, generation);
    pass.Commit(p.key, std::move(updated));
    return;
  }
  // Preemption within the ClusterQueue.
  const std::string policy = StringField(ObjectOrEmpty(cq_spec, "preemption"), "withinClusterQueue");
  bool waiting_for_preemption = false;
  if (policy == "LowerPriority" || policy == "LowerOrNewerEqualPriority") {
    PreemptionInput in{pass.workloads, cq_name, cq->second, policy, pass.usage[cq_name], pass.flavors};
    if (std::optional<std::vector<std::string>> chosen = PreemptionVictims(in, p, needs)) {
      waiting_for_preemption = true;
      const std::string message = PreemptionMessage(wl);
      for (const std::string& key : *chosen) {
        json victim = pass.workloads[key];
        SetCondition(victim["status"], "Evicted", "True", "Preempted", message, pass.now, Generation(victim));
        SetCondition(victim["status"], "Preempted", "True", "InClusterQueue", message, pass.now, Generation(victim));
        pass.Commit(key, std::move(victim));
      }
    }
  }
  pending_as("Pending", waiting_for_preemption ? why + "; waiting for preempted workloads to release their quota" : why);
  if (StringField(cq_spec, "queueingStrategy") == "StrictFIFO") held_back.insert(cq_name);
}

}  // namespace

void TestApiServer::Impl::KueueAdmitterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    kueue_dirty_ = false;
    try {
      KueueAdmitterStepLocked();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ringleader-testapiserver: Kueue admitter pass failed: %s\n", e.what());
    }
    kueue_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || kueue_dirty_; });
  }
}

void TestApiServer::Impl::KueueAdmitterStepLocked() {
  const ResourceType* wl_type = FindType(kGroup, kVersion, "workloads");
  const ResourceType* cq_type = FindType(kGroup, kVersion, "clusterqueues");
  const ResourceType* lq_type = FindType(kGroup, kVersion, "localqueues");
  const ResourceType* rf_type = FindType(kGroup, kVersion, "resourceflavors");
  for (const ResourceType* t : {wl_type, cq_type, lq_type, rf_type}) {
    if (t == nullptr || !t->active) return;
  }
  KueuePass pass{objects_[wl_type->Key()], objects_[lq_type->Key()], NowRfc3339(),
                 [&](json& updated, json* old) { Commit(*wl_type, "MODIFIED", updated, old); }};
  for (const auto& [key, rf] : objects_[rf_type->Key()])
    pass.flavors[StringField(ObjectOrEmpty(rf, "metadata"), "name")] = rf;
  for (const auto& [key, cq] : objects_[cq_type->Key()])
    pass.queues[StringField(ObjectOrEmpty(cq, "metadata"), "name")] = cq;
  std::vector<PendingWorkload> pending = CountReservedAndCollectPending(pass);
  std::sort(pending.begin(), pending.end(), QueuedBefore);
  std::set<std::string> held_back;  // StrictFIFO ClusterQueues with an older Workload waiting
  for (const PendingWorkload& p : pending) TryAdmit(pass, p, held_back);
}

}  // namespace ringleader::testapi
