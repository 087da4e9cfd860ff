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

#include "ringleader/common/json_fields.h"
#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr char kGroup[] = "kueue.x-k8s.io";
constexpr char kVersion[] = "v1beta2";

using json_fields::ArrayOrEmpty;
using json_fields::ObjectOrEmpty;
using json_fields::StringField;

using Usage = std::map<std::string, std::map<std::string, int64_t>>;  // flavor → resource → milli

std::string FormatMilli(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

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

// One pod's requests of a template: containers' requests (limits where requests are absent).
std::map<std::string, int64_t> PodRequests(const json& tmpl) {
  std::map<std::string, int64_t> out;
  const json& spec = ObjectOrEmpty(tmpl, "spec");
  for (const json& c : ArrayOrEmpty(spec, "containers")) {
    const json& res = ObjectOrEmpty(c, "resources");
    std::map<std::string, int64_t> one;
    for (const char* part : {"limits", "requests"}) {  // requests win
      for (const auto& [name, value] : ObjectOrEmpty(res, part).items()) {
        if (value.is_string())
          one[name] = ParseQuantityMilli(value.get<std::string>());
        else if (value.is_number())
          one[name] = static_cast<int64_t>(value.get<double>() * 1000);
      }
    }
    for (const auto& [name, milli] : one) out[name] += milli;
  }
  return out;
}

bool Tolerates(const json& tolerations, const json& taint) {
  for (const json& t : tolerations) {
    std::string effect = StringField(t, "effect");
    if (!effect.empty() && effect != StringField(taint, "effect")) continue;
    std::string op = StringField(t, "operator");
    if (op.empty()) op = "Equal";
    const std::string key = StringField(t, "key");
    if (op == "Exists") {
      if (key.empty() || key == StringField(taint, "key")) return true;
    } else if (key == StringField(taint, "key") && StringField(t, "value") == StringField(taint, "value")) {
      return true;
    }
  }
  return false;
}

struct PodSetNeed {
  std::string name;
  int64_t count = 0;
  std::map<std::string, int64_t> total;  // resource → milli, for all pods
  json node_selector = json::object();
  json tolerations = json::array();
};

struct Assignment {
  std::string pod_set;
  int64_t count = 0;
  std::map<std::string, std::string> flavors;  // resource → flavor
  std::map<std::string, int64_t> usage;        // resource → milli
};

// Assigns flavors to every pod set, or says why not.
bool AssignFlavors(const std::vector<PodSetNeed>& needs, const json& cq, const Usage& used,
                   const std::map<std::string, json>& flavors, std::vector<Assignment>* out, std::string* why) {
  Usage taken = used;
  out->clear();
  const json& groups = ArrayOrEmpty(ObjectOrEmpty(cq, "spec"), "resourceGroups");
  for (const PodSetNeed& need : needs) {
    Assignment a;
    a.pod_set = need.name;
    a.count = need.count;
    for (const json& group : groups) {
      std::vector<std::string> covered;
      for (const json& r : ArrayOrEmpty(group, "coveredResources")) {
        if (r.is_string()) covered.push_back(r.get<std::string>());
      }
      std::vector<std::string> wanted;
      for (const auto& [res, milli] : need.total) {
        if (milli > 0 && std::find(covered.begin(), covered.end(), res) != covered.end()) wanted.push_back(res);
      }
      if (wanted.empty()) continue;
      std::string first_shortage;
      bool placed = false;
      for (const json& fq : ArrayOrEmpty(group, "flavors")) {
        const std::string flavor = StringField(fq, "name");
        auto rf = flavors.find(flavor);
        if (rf == flavors.end()) continue;  // Kueue: the ClusterQueue is inactive (FlavorNotFound)
        const json& rf_spec = ObjectOrEmpty(rf->second, "spec");
        bool compatible = true;
        for (const auto& [key, value] : ObjectOrEmpty(rf_spec, "nodeLabels").items()) {
          if (need.node_selector.contains(key) && need.node_selector[key] != value) compatible = false;
        }
        json tolerations = need.tolerations;
        for (const json& t : ArrayOrEmpty(rf_spec, "tolerations")) tolerations.push_back(t);
        for (const json& taint : ArrayOrEmpty(rf_spec, "nodeTaints")) {
          std::string effect = StringField(taint, "effect");
          if ((effect == "NoSchedule" || effect == "NoExecute") && !Tolerates(tolerations, taint)) compatible = false;
        }
        if (!compatible) continue;
        std::string shortage;
        for (const std::string& res : wanted) {
          int64_t nominal = -1;
          for (const json& q : ArrayOrEmpty(fq, "resources")) {
            if (StringField(q, "name") != res) continue;
            const json& nq = q.contains("nominalQuota") ? q["nominalQuota"] : json();
            nominal = nq.is_string()   ? ParseQuantityMilli(nq.get<std::string>())
                      : nq.is_number() ? static_cast<int64_t>(nq.get<double>() * 1000)
                                       : 0;
          }
          int64_t in_use = 0;
          if (auto f = taken.find(flavor); f != taken.end()) {
            if (auto r = f->second.find(res); r != f->second.end()) in_use = r->second;
          }
          const int64_t want = need.total.at(res);
          if (nominal < 0 || in_use + want > nominal) {
            shortage = "insufficient unused quota for " + res + " in flavor " + flavor + ", " +
                       FormatMilli(in_use + want - std::max<int64_t>(nominal, 0)) + " more needed";
            break;
          }
        }
        if (!shortage.empty()) {
          if (first_shortage.empty()) first_shortage = shortage;
          continue;
        }
        for (const std::string& res : wanted) {
          a.flavors[res] = flavor;
          a.usage[res] = need.total.at(res);
          taken[flavor][res] += need.total.at(res);
        }
        placed = true;
        break;
      }
      if (!placed) {
        *why = "couldn't assign flavors to pod set " + need.name + ": " +
               (first_shortage.empty() ? "no flavor of the ClusterQueue matches its node selector and tolerations"
                                       : first_shortage);
        return false;
      }
    }
    for (const auto& [res, milli] : need.total) {
      if (milli > 0 && !a.flavors.count(res)) {
        *why = "couldn't assign flavors to pod set " + need.name + ": resource " + res + " unavailable in ClusterQueue";
        return false;
      }
    }
    out->push_back(std::move(a));
  }
  return true;
}

std::vector<PodSetNeed> NeedsOf(const json& wl) {
  std::vector<PodSetNeed> needs;
  for (const json& ps : ArrayOrEmpty(ObjectOrEmpty(wl, "spec"), "podSets")) {
    PodSetNeed need;
    need.name = StringField(ps, "name").empty() ? "main" : StringField(ps, "name");
    need.count = ps.contains("count") && ps["count"].is_number_integer() ? ps["count"].get<int64_t>() : 1;
    const json& tmpl = ObjectOrEmpty(ps, "template");
    for (const auto& [res, milli] : PodRequests(tmpl)) need.total[res] = milli * need.count;
    need.node_selector = ObjectOrEmpty(ObjectOrEmpty(tmpl, "spec"), "nodeSelector");
    need.tolerations = ArrayOrEmpty(ObjectOrEmpty(tmpl, "spec"), "tolerations");
    needs.push_back(std::move(need));
  }
  return needs;
}

void AddUsage(Usage& usage, const json& admission, int64_t sign) {
  for (const json& psa : ArrayOrEmpty(admission, "podSetAssignments")) {
    const json& flavors = ObjectOrEmpty(psa, "flavors");
    for (const auto& [res, qty] : ObjectOrEmpty(psa, "resourceUsage").items()) {
      if (!flavors.contains(res) || !flavors[res].is_string() || !qty.is_string()) continue;
      usage[flavors[res].get<std::string>()][res] += sign * ParseQuantityMilli(qty.get<std::string>());
    }
  }
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
  const std::string now = NowRfc3339();
  std::map<std::string, json> flavors;
  for (const auto& [key, rf] : objects_[rf_type->Key()])
    flavors[StringField(ObjectOrEmpty(rf, "metadata"), "name")] = rf;
  std::map<std::string, json> queues;  // ClusterQueues by name
  for (const auto& [key, cq] : objects_[cq_type->Key()])
    queues[StringField(ObjectOrEmpty(cq, "metadata"), "name")] = cq;
  std::map<std::string, Usage> usage;  // ClusterQueue →

  auto& workloads = objects_[wl_type->Key()];
  auto commit = [&](const std::string& key, json updated) {
    json old = workloads[key];
    if (updated != old) Commit(*wl_type, "MODIFIED", updated, &old);
  };

  struct Pending {
    int32_t priority;
    std::string created;
    std::string key;
  };
  std::vector<Pending> pending;
  std::vector<std::string> keys;
  for (const auto& [key, wl] : workloads) keys.push_back(key);
  for (const std::string& key : keys) {
    const json& wl = workloads[key];
    const json& meta = ObjectOrEmpty(wl, "metadata");
    const json& status = ObjectOrEmpty(wl, "status");
    if (ConditionTrue(status, "Finished")) continue;
    const bool active = !ObjectOrEmpty(wl, "spec").contains("active") || wl["spec"]["active"] != false;
    if (ConditionTrue(status, "QuotaReserved")) {
      const json& admission = ObjectOrEmpty(status, "admission");
      AddUsage(usage[StringField(admission, "clusterQueue")], admission, 1);
      if (!active && !ConditionTrue(status, "Evicted")) {
        json updated = wl;
        SetCondition(updated["status"], "Evicted", "True", "Deactivated", "The workload is deactivated", now,
                     Generation(wl));
        commit(key, std::move(updated));
      }
      continue;
    }
    if (!active || meta.contains("deletionTimestamp")) continue;
    pending.push_back({Priority(wl), StringField(meta, "creationTimestamp"), key});
  }
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.created != b.created) return a.created < b.created;
    return a.key < b.key;
  });

  std::set<std::string> held_back;  // StrictFIFO ClusterQueues with an older Workload waiting
  for (const Pending& p : pending) {
    json wl = workloads[p.key];
    const int64_t generation = Generation(wl);
    const std::string ns = StringField(ObjectOrEmpty(wl, "metadata"), "namespace");
    const std::string queue_name = StringField(ObjectOrEmpty(wl, "spec"), "queueName");
    auto pending_as = [&](const std::string& reason, const std::string& message) {
      json updated = wl;
      SetCondition(updated["status"], "QuotaReserved", "False", reason, message, now, generation);
      commit(p.key, std::move(updated));
    };
    auto lq = objects_[lq_type->Key()].find(ns + "/" + queue_name);
    if (lq == objects_[lq_type->Key()].end()) {
      pending_as("Inadmissible", "LocalQueue " + queue_name + " doesn't exist");
      continue;
    }
    const std::string cq_name = StringField(ObjectOrEmpty(lq->second, "spec"), "clusterQueue");
    auto cq = queues.find(cq_name);
    if (cq == queues.end()) {
      pending_as("Inadmissible", "ClusterQueue " + cq_name + " doesn't exist");
      continue;
    }
    if (held_back.count(cq_name)) continue;
    const json& cq_spec = ObjectOrEmpty(cq->second, "spec");
    std::vector<PodSetNeed> needs = NeedsOf(wl);
    std::vector<Assignment> assigned;
    std::string why;
    if (AssignFlavors(needs, cq->second, usage[cq_name], flavors, &assigned, &why)) {
      json admission = {{"clusterQueue", cq_name}, {"podSetAssignments", json::array()}};
      for (const Assignment& a : assigned) {
        json fl = json::object(), use = json::object();
        for (const auto& [res, flavor] : a.flavors) fl[res] = flavor;
        for (const auto& [res, milli] : a.usage) use[res] = FormatMilli(milli);
        admission["podSetAssignments"].push_back(
            {{"name", a.pod_set}, {"flavors", fl}, {"resourceUsage", use}, {"count", a.count}});
      }
      AddUsage(usage[cq_name], admission, 1);
      json updated = wl;
      json& st = updated["status"];
      st["admission"] = admission;
      SetCondition(st, "QuotaReserved", "True", "QuotaReserved", "Quota reserved in ClusterQueue " + cq_name, now,
                   generation);
      SetCondition(st, "Admitted", "True", "Admitted", "The workload is admitted", now, generation);
      ResetActive(st, "Evicted", "QuotaReserved", now, generation);
      ResetActive(st, "Preempted", "QuotaReserved", now, generation);
      commit(p.key, std::move(updated));
      continue;
    }
    // Preemption within the ClusterQueue.
    const std::string policy = StringField(ObjectOrEmpty(cq_spec, "preemption"), "withinClusterQueue");
    bool waiting_for_preemption = false;
    if (policy == "LowerPriority" || policy == "LowerOrNewerEqualPriority") {
      struct Victim {
        int32_t priority;
        std::string admitted_at;
        std::string key;
        bool evicted;
      };
      std::vector<Victim> victims;
      for (const auto& [key, other] : workloads) {
        const json& st = ObjectOrEmpty(other, "status");
        if (!ConditionTrue(st, "QuotaReserved") || ConditionTrue(st, "Finished")) continue;
        if (StringField(ObjectOrEmpty(st, "admission"), "clusterQueue") != cq_name) continue;
        const int32_t prio = Priority(other);
        const bool lower =
            prio < p.priority || (policy == "LowerOrNewerEqualPriority" && prio == p.priority &&
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
      Usage without = usage[cq_name];
      std::vector<std::string> chosen;
      bool fits = false;
      for (const Victim& v : victims) {
        AddUsage(without, ObjectOrEmpty(ObjectOrEmpty(workloads[v.key], "status"), "admission"), -1);
        if (!v.evicted) chosen.push_back(v.key);
        std::vector<Assignment> ignored;
        std::string unused;
        if (AssignFlavors(needs, cq->second, without, flavors, &ignored, &unused)) {
          fits = true;
          break;
        }
      }
      if (fits) {
        waiting_for_preemption = true;
        const std::string job_uid =
            StringField(ObjectOrEmpty(ObjectOrEmpty(wl, "metadata"), "labels"), "kueue.x-k8s.io/job-uid");
        const std::string message =
            "Preempted to accommodate a workload (UID: " + StringField(ObjectOrEmpty(wl, "metadata"), "uid") +
            ", JobUID: " + job_uid + ") due to prioritization in the ClusterQueue";
        for (const std::string& key : chosen) {
          json victim = workloads[key];
          SetCondition(victim["status"], "Evicted", "True", "Preempted", message, now, Generation(victim));
          SetCondition(victim["status"], "Preempted", "True", "InClusterQueue", message, now, Generation(victim));
          commit(key, std::move(victim));
        }
      }
    }
    pending_as("Pending",
               waiting_for_preemption ? why + "; waiting for preempted workloads to release their quota" : why);
    if (StringField(cq_spec, "queueingStrategy") == "StrictFIFO") held_back.insert(cq_name);
  }
}

}  // namespace ringleader::testapi
