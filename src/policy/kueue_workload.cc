#include "ringleader/policy/kueue_workload.h"

#include <algorithm>
#include <cstdio>

#include "ringleader/common/rfc3339.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using api::JobPhase;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kTrue = "True";
constexpr const char* kFalse = "False";
constexpr const char* kNormal = "Normal";

// Kueue's PodsReady messages and reasons (jobframework generatePodsReadyCondition).
constexpr const char* kPodsNotReady = "Not all pods are ready or succeeded";
constexpr const char* kPodsWaitingForRecovery = "At least one pod has failed, waiting for recovery";
constexpr const char* kPodsReady = "All pods reached readiness and the workload is running";

// Kueue truncates condition messages to this many bytes (api.TruncateConditionMessage).
constexpr size_t kMaxConditionMessage = 32 * 1024;

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

bool IsTerminal(const std::optional<JobPhase>& phase) {
  return phase == JobPhase::kSucceeded || phase == JobPhase::kFailed;
}

const std::string& Str(const json& object, const char* key) { return json_fields::StringRef(object, key); }

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

std::string Truncate(std::string message) {
  if (message.size() > kMaxConditionMessage) message.resize(kMaxConditionMessage);
  return message;
}

// All the state one decision works on.
class KueueStep {
 public:
  KueueStep(const StateInput& in, const KueueInput& kq, const StateOptions& opt)
      : in_(in), kq_(kq), opt_(opt), job_(in.job), now_(FormatRfc3339(in.now)) {}

  KueuePlan Run() {
    Decide();
    if (kq_.workload && IsTerminal(st().phase) && !kq_.workload->Finished() && !kq_.workload->deleting) {
      // Kueue releases the quota of a finished Workload (jobframework: step 2).
      const bool ok = st().phase == JobPhase::kSucceeded;
      SetWlCondition("Finished", kTrue, ok ? "Succeeded" : "Failed", st().message);
    }
    // Last, over what the Kueue paths set (the Admitted condition, their events).
    HoldForMissingPodGroupCrd(in_, opt_, out_.state);
    return std::move(out_);
  }

 private:
  api::TrainingJobStatus& st() { return out_.state.status; }

  void Decide() {
    const auto& phase = job_.status.phase;
    if (!in_.spec_errors.empty() || IsTerminal(phase)) {
      out_.state = DecideNextState(in_, opt_);
      return;
    }
    if (job_.spec.run_policy.suspend) {
      out_.state = DecideNextState(in_, opt_);
      // A suspended job holds no quota: its Workload goes, resume queues a new one.
      if (kq_.workload && !kq_.workload->deleting) out_.delete_workload = true;
      return;
    }
    if (!kq_.unavailable.empty()) return Unavailable();
    if (phase == JobPhase::kSuspended) {
      out_.state = DecideNextState(in_, opt_);  // resume: pods gone first, then a new attempt
      if (st().phase == JobPhase::kPending) Queue(kReasonQueued, QueuedMessage(""));
      if (!kq_.workload) out_.create_workload = st().phase == JobPhase::kQueued;
      return;
    }
    Active();
  }

  void Active() {
    const std::optional<WorkloadView>& wl = kq_.workload;
    if (!wl || wl->deleting) {
      // No Workload (new job, or it was deleted: by a user, or for a changed spec): nothing may
      // run without one.
      if (!AnyPods()) {
        if (!wl) out_.create_workload = true;
        StartFromStatus();
        return QueueWaiting("");
      }
      return Stop("AdmissionRemoved", "the Workload is gone");
    }
    const bool matches = wl->spec_hash == kq_.expected_spec_hash;
    const bool admitted = wl->Admitted() && !wl->Evicted() && !wl->Finished();
    // A Workload built from an older spec keeps the gang it admitted running; the next attempt
    // needs a new one.
    if (admitted && (matches || AnyPods())) return Admitted();
    if (AnyPods()) {
      if (wl->Evicted()) {
        const WorkloadCondition* c = wl->Find("Evicted");
        return Stop(c->reason, c->message);
      }
      return Stop("AdmissionRemoved",
                  wl->Finished() ? "the Workload is finished" : "the Workload's admission was removed");
    }
    // No Pod left.
    StartFromStatus();
    // Built from an older spec (podSets are immutable), or finished by someone else while the
    // job still wants to run: replaced by a new Workload from the current spec (deleting it
    // frees whatever quota it held).
    const bool replace = !matches || wl->Finished();
    if (replace) {
      out_.delete_workload = true;
    } else if (wl->Evicted() && wl->QuotaReserved()) {
      GiveQuotaBack(*wl);
    }
    NewAttemptIfStarted();
    const api::Condition* before = FindCondition(job_.status.conditions, "Admitted");
    if (wl->Evicted() || (before != nullptr && before->reason == kReasonEvicted)) {
      std::string why =
          before != nullptr && before->reason == kReasonEvicted ? EvictionCause(before->message) : EvictionText(*wl);
      return Queue(kReasonEvicted, why + "; " + QueuedMessage("to be admitted again"));
    }
    QueueWaiting(replace ? "the job's spec changed: its Workload is replaced" : WaitingReason(*wl));
  }

  // The state machine's view of the job, as a starting point for the Kueue paths that do not
  // run it: its status, with the observed generation and worker counts.
  void StartFromStatus() {
    out_.state.status = job_.status;
    st().observed_generation = job_.metadata.generation;
    CountWorkers();
  }

  void Unavailable() {
    if (AnyPods()) {
      // Kueue went away under a running gang: let it run, but start nothing without it.
      out_.state = DecideNextState(in_, opt_);
      out_.state.create_ranks.clear();
      out_.state.ungate_pods.clear();
      return;
    }
    StartFromStatus();
    const api::Condition* before = FindCondition(job_.status.conditions, "Admitted");
    st().phase = JobPhase::kPending;
    st().message = kq_.unavailable;
    Condition("Admitted", kFalse, kq_.unavailable_reason, kq_.unavailable);
    // A cache still syncing is a moment, not news.
    if ((before == nullptr || before->reason != kq_.unavailable_reason) && kq_.unavailable_reason != "KueueNotSynced") {
      Event("Warning", kq_.unavailable_reason, kq_.unavailable);
    }
    RequeueAfter(kq_.unavailable_retry);
  }

  void Admitted() {
    const WorkloadView& wl = *kq_.workload;
    // Kueue admitted the gang: the state machine runs with Admitted=True (no capacity check of
    // its own), and Admitted stays True across restarts for as long as Kueue's admission does.
    StateInput input = in_;
    std::string message = "admitted by ClusterQueue " + wl.cluster_queue;
    const std::string flavors = wl.FlavorsText();
    if (!flavors.empty()) message += " (flavors: " + flavors + ")";
    const api::Condition* before = FindCondition(job_.status.conditions, "Admitted");
    const bool newly = before == nullptr || before->status != kTrue || before->reason != kReasonKueueAdmitted;
    SetCondition(input.job.status.conditions, "Admitted", kTrue, kReasonKueueAdmitted, message, now_,
                 job_.metadata.generation);
    const api::Condition kept = *FindCondition(input.job.status.conditions, "Admitted");
    if (input.job.status.phase == JobPhase::kQueued) input.job.status.phase = JobPhase::kPending;
    out_.state = DecideNextState(input, opt_);
    // A restart's new attempt would say Admitted=False/NewAttempt: under Kueue it is admitted.
    for (api::Condition& c : st().conditions) {
      if (c.type == "Admitted") c = kept;
    }
    if (newly) Event(kNormal, kReasonKueueAdmitted, message);
    PodsReady(wl);
  }

  // Kueue's PodsReady (waitForPodsReady): True once every worker is Ready (or succeeded);
  // written when its status changes, as the job integrations do.
  void PodsReady(const WorkloadView& wl) {
    const api::WorkerCounts& w = st().workers;
    const bool ready = w.ready + w.succeeded >= job_.spec.workers && job_.spec.workers > 0;
    const WorkloadCondition* prev = wl.Find("PodsReady");
    std::string status = kFalse, reason = "WaitForStart", message = kPodsNotReady;
    if (ready) {
      status = kTrue;
      reason = prev != nullptr && (prev->reason == "WaitForRecovery" || prev->reason == "Recovered") ? "Recovered"
                                                                                                     : "Started";
      message = kPodsReady;
    } else if (prev != nullptr && (prev->status == kTrue || prev->reason == "WaitForRecovery")) {
      reason = "WaitForRecovery";
      message = kPodsWaitingForRecovery;
    }
    if (prev == nullptr || prev->status != status) SetWlCondition("PodsReady", status, reason, message);
  }

  // Eviction, or admission removed, with Pods still there: stop the gang. Pods are deleted
  // with their grace period (SIGTERM first: the runtime may checkpoint); the quota is given
  // back once none is left.
  void Stop(const std::string& cause, const std::string& detail) {
    StartFromStatus();
    int64_t stopping = 0;
    for (const ObservedPod& p : in_.pods) {
      if (p.terminating) continue;
      out_.state.delete_pods.push_back(p.name);
      stopping += p.phase != "Succeeded" && p.phase != "Failed";
    }
    std::sort(out_.state.delete_pods.begin(), out_.state.delete_pods.end());
    CountWorkers();
    const api::Condition* before = FindCondition(job_.status.conditions, "Admitted");
    std::string why;
    if (before != nullptr && before->reason == kReasonEvicted) {
      why = EvictionCause(before->message);
    } else {
      why = "evicted by Kueue (" + cause + "): " + detail;
    }
    std::string message = why + "; stopping the workers";
    Queue(kReasonEvicted, message);
    if (const api::Condition* c = FindCondition(st().conditions, "Running"); c != nullptr && c->status == kTrue) {
      Condition("Running", kFalse, kReasonEvicted, why);
    }
    if (const api::Condition* c = FindCondition(st().conditions, "GangScheduled"); c != nullptr && c->status == kTrue) {
      Condition("GangScheduled", kFalse, kReasonEvicted, "the gang is being stopped");
    }
    if (before == nullptr || before->reason != kReasonEvicted) {
      Event(kNormal, kReasonEvicted,
            why + "; deleting " + std::to_string(stopping) + " running worker" + (stopping == 1 ? "" : "s") +
                " (SIGTERM, then their grace period); the job waits in its queue to be admitted again");
    }
    RequeueAfter(milliseconds(500));  // pod deletions also wake the job
  }

  // jobframework, eviction: once the job is no longer active the integration clears the
  // admission (QuotaReserved=False/Pending, admission null, Admitted synced) and sets Requeued.
  void GiveQuotaBack(const WorkloadView& wl) {
    const WorkloadCondition& evicted = *wl.Find("Evicted");
    json status = wl.status;
    const bool requeued = evicted.reason == "Preempted" || evicted.reason == "AdmissionCheck";
    SetWorkloadCondition(status, "Requeued", requeued ? kTrue : kFalse, evicted.reason, Truncate(evicted.message), now_,
                         wl.generation);
    SetWorkloadCondition(status, "QuotaReserved", kFalse, "Pending", Truncate(evicted.message), now_, wl.generation);
    status.erase("admission");
    if (wl.Admitted()) {
      SetWorkloadCondition(status, "Admitted", kFalse, "NoReservation", "The workload has no reservation", now_,
                           wl.generation);
    }
    if (wl.Find("PodsReady") != nullptr) {
      SetWorkloadCondition(status, "PodsReady", kFalse, "WaitForStart", kPodsNotReady, now_, wl.generation);
    }
    out_.workload_status = std::move(status);
    Event(kNormal, "Requeued",
          "workers stopped; quota given back to ClusterQueue " + wl.cluster_queue + "; the job waits in LocalQueue " +
              kq_.queue + " to be admitted again");
  }

  // After an eviction the next admission runs a new attempt (as a resume does): attempt+1,
  // GangScheduled Unknown so that its gang timeout starts afresh, startTime cleared so that
  // activeDeadlineSeconds counts from the next start. restarts is not touched.
  void NewAttemptIfStarted() {
    const api::Condition* gang = FindCondition(st().conditions, "GangScheduled");
    if (gang == nullptr || gang->status == "Unknown") return;
    st().attempt += 1;
    st().start_time.clear();
    const std::string message = "attempt " + std::to_string(st().attempt) + " waits for Kueue's admission";
    Condition("GangScheduled", "Unknown", "NewAttempt", message);
    if (const api::Condition* r = FindCondition(st().conditions, "Restarting"); r != nullptr && r->status == kTrue) {
      Condition("Restarting", kFalse, "NewAttempt", message);
    }
    if (const api::Condition* r = FindCondition(st().conditions, "Running"); r != nullptr && r->status == kTrue) {
      Condition("Running", kFalse, kReasonEvicted, message);
    }
    CountWorkers();
  }

  void QueueWaiting(const std::string& reason) { Queue(kReasonQueued, QueuedMessage(reason)); }

  void Queue(const char* reason, const std::string& message) {
    st().phase = JobPhase::kQueued;
    st().message = message;
    Condition("Admitted", kFalse, reason, message);
  }

  // "queued in LocalQueue q (ClusterQueue cq)[: why]"
  std::string QueuedMessage(const std::string& why) const {
    std::string m = "queued in LocalQueue " + kq_.queue;
    if (!kq_.cluster_queue.empty()) m += " (ClusterQueue " + kq_.cluster_queue + ")";
    if (!why.empty()) m += (why.rfind("to ", 0) == 0 ? " " : ": ") + why;
    return m;
  }

  std::string WaitingReason(const WorkloadView& wl) const {
    if (const WorkloadCondition* c = wl.Find("QuotaReserved");
        c != nullptr && c->status == kFalse && !c->message.empty()) {
      return c->message;
    }
    if (!kq_.queue_problem.empty()) return kq_.queue_problem;
    if (wl.QuotaReserved())
      return "quota reserved in ClusterQueue " + wl.cluster_queue + ", waiting for admission checks";
    return "waiting for Kueue to admit the Workload";
  }

  static std::string EvictionText(const WorkloadView& wl) {
    const WorkloadCondition* c = wl.Find("Evicted");
    if (c == nullptr) return "evicted by Kueue";
    return "evicted by Kueue (" + c->reason + "): " + c->message;
  }
  // The eviction part of an earlier message ("evicted by Kueue (R): M; stopping the workers").
  static std::string EvictionCause(const std::string& message) {
    for (const char* tail : {"; stopping the workers", "; queued in LocalQueue "}) {
      size_t at = message.find(tail);
      if (at != std::string::npos) return message.substr(0, at);
    }
    return message;
  }

  bool AnyPods() const { return !in_.pods.empty(); }

  void CountWorkers() {
    api::WorkerCounts counts;
    const auto& deleting = out_.state.delete_pods;
    for (const ObservedPod& p : in_.pods) {
      if (p.attempt != st().attempt || p.rank < 0 || p.rank >= job_.spec.workers) continue;
      const bool going = p.terminating || std::find(deleting.begin(), deleting.end(), p.name) != deleting.end();
      const bool finished = p.phase == "Succeeded" || p.phase == "Failed";
      if (going && !finished) continue;
      if (p.phase == "Pending")
        counts.pending++;
      else if (p.phase == "Running")
        counts.running++;
      else if (p.phase == "Succeeded")
        counts.succeeded++;
      else if (p.phase == "Failed")
        counts.failed++;
      if (p.phase == "Running" && p.ready) counts.ready++;
    }
    st().workers = counts;
    st().ready = std::to_string(counts.ready) + "/" + std::to_string(job_.spec.workers);
  }

  void Condition(const std::string& type, const std::string& status, const std::string& reason,
                 const std::string& message) {
    SetCondition(st().conditions, type, status, reason, message, now_, job_.metadata.generation);
  }
  void Event(const char* type, const std::string& reason, const std::string& message) {
    out_.state.events.push_back({type, reason, message});
  }
  void RequeueAfter(milliseconds d) {
    auto& r = out_.state.requeue_after;
    if (!r || d < *r) r = d;
  }
  void SetWlCondition(const std::string& type, const std::string& status, const std::string& reason,
                      const std::string& message) {
    if (!out_.workload_status) out_.workload_status = kq_.workload->status;
    SetWorkloadCondition(*out_.workload_status, type, status, reason, Truncate(message), now_,
                         kq_.workload->generation);
  }

  const StateInput& in_;
  const KueueInput& kq_;
  const StateOptions& opt_;
  const api::TrainingJob& job_;
  const std::string now_;
  KueuePlan out_;
};

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

bool SetWorkloadCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                          const std::string& message, const std::string& now, int64_t generation) {
  if (!status.is_object()) status = json::object();
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  for (json& c : status["conditions"]) {
    if (!c.is_object() || Str(c, "type") != type) continue;
    json before = c;
    if (Str(c, "status") != value) c["lastTransitionTime"] = now;
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["observedGeneration"] = generation;
    return c != before;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", value},
                                  {"reason", reason},
                                  {"message", message},
                                  {"lastTransitionTime", now},
                                  {"observedGeneration", generation}});
  return true;
}

KueuePlan DecideWithKueue(const StateInput& input, const KueueInput& kueue, const StateOptions& options) {
  return KueueStep(input, kueue, options).Run();
}

}  // namespace ringleader::controller
