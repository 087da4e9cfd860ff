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

bool IsTerminal(const std::optional<JobPhase>& phase) {
  return phase == JobPhase::kSucceeded || phase == JobPhase::kFailed;
}

const std::string& Str(const json& object, const char* key) { return json_fields::StringRef(object, key); }

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
