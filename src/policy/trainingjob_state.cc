#include "ringleader/policy/trainingjob_state.h"

#include <algorithm>
#include <map>

#include "ringleader/api/limits.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/api/worker_env.h"
#include "ringleader/policy/failure_attribution.h"
#include "ringleader/policy/kueue_workload.h"
#include "ringleader/policy/restart_policy.h"

namespace ringleader::controller {

using api::JobPhase;
using std::chrono::milliseconds;

namespace {

constexpr const char* kTrue = "True";
constexpr const char* kFalse = "False";
constexpr const char* kNormal = "Normal";
constexpr const char* kWarning = "Warning";

// Reasons of the GangScheduled condition that mean "every pod of this attempt was seen".
constexpr const char* kCreatingPods = "CreatingPods";
constexpr const char* kPodsCreated = "PodsCreated";
constexpr const char* kAllRunning = "AllRunning";

bool IsTerminal(const std::optional<JobPhase>& phase) {
  return phase == JobPhase::kSucceeded || phase == JobPhase::kFailed;
}

bool ConditionIs(const api::TrainingJobStatus& st, const std::string& type, const std::string& status) {
  const api::Condition* c = FindCondition(st.conditions, type);
  return c != nullptr && c->status == status;
}

std::optional<std::chrono::system_clock::time_point> ConditionTime(const api::TrainingJobStatus& st,
                                                                   const std::string& type) {
  const api::Condition* c = FindCondition(st.conditions, type);
  if (c == nullptr) return std::nullopt;
  return ParseRfc3339(c->last_transition_time);
}

// Events are notes for people; events.k8s.io caps a note at 1 KiB, and so do we.
constexpr size_t kMaxEventMessageLength = 1024;

// "invalid spec: " and every problem, as many whole ones as fit in `max_length` (the CRD
// bounds status messages: a longer one would make the API server refuse the status write, and
// the job would never show Failed), then how many more there are.
std::string SpecErrorsMessage(const std::vector<api::FieldError>& errors, size_t max_length) {
  std::string message = "invalid spec: ";
  for (size_t i = 0; i < errors.size(); ++i) {
    std::string part = (i ? "; " : "") + errors[i].ToString();
    const size_t left = errors.size() - i;
    // Room for the tail that says what was left out, should a later problem not fit.
    const std::string tail = "; and " + std::to_string(left) + " more (ringleader validate lists them all)";
    const bool last = i + 1 == errors.size();
    if (message.size() + part.size() + (last ? 0 : tail.size()) > max_length) {
      if (message.size() + tail.size() <= max_length) message += tail;
      return message.substr(0, max_length);
    }
    message += part;
  }
  return message;
}

// All the state a decision step works on.
class Step {
 public:
  Step(const StateInput& in, const StateOptions& opt) : in_(in), opt_(opt), job_(in.job) {
    plan_.status = job_.status;
    now_ = FormatRfc3339(in.now);
    gen_ = job_.metadata.generation;
    plan_.status.observed_generation = gen_;
    for (const ObservedPod& p : in.pods) {
      if (p.attempt == plan_.status.attempt && p.rank >= 0 && p.rank < job_.spec.workers) {
        current_[p.rank] = &p;
      } else {
        stale_.push_back(&p);
      }
    }
  }

  StatePlan Run() {
    Decide();
    ForceDeleteStuckPods();
    CountWorkers();
    // Several rules may ask for the same deletion (deadline + clean policy): ask once.
    auto& names = plan_.delete_pods;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    HoldForMissingPodGroupCrd(in_, opt_, plan_);
    return std::move(plan_);
  }

 private:
  api::TrainingJobStatus& st() { return plan_.status; }

  void Condition(const std::string& type, const std::string& status, const std::string& reason,
                 const std::string& message) {
    SetCondition(st().conditions, type, status, reason, message, now_, gen_);
  }
  void Event(const char* type, const std::string& reason, const std::string& message) {
    plan_.events.push_back({type, reason, message});
  }
  // The job ends Failed: the Failed condition, Running False, a Warning Event.
  void MarkFailed(const std::string& reason, const std::string& message, const std::string& running_reason,
                  const std::string& running_message, const std::string& event_reason) {
    st().phase = JobPhase::kFailed;
    st().message = message;
    st().completion_time = now_;
    Condition("Failed", kTrue, reason, message);
    Condition("Running", kFalse, running_reason, running_message);
    Event(kWarning, event_reason, message);
  }
  void RequeueAfter(milliseconds d) {
    d = std::max(d, milliseconds(0));
    if (!plan_.requeue_after || d < *plan_.requeue_after) plan_.requeue_after = d;
  }
  void RequeueAt(std::chrono::system_clock::time_point t) {
    RequeueAfter(std::chrono::duration_cast<milliseconds>(t - in_.now) + milliseconds(1));
  }
  void DeletePods(bool include_finished) {
    for (const ObservedPod& p : in_.pods) {
      if (p.terminating) continue;
      bool finished = p.phase == "Succeeded" || p.phase == "Failed";
      if (include_finished || !finished) plan_.delete_pods.push_back(p.name);
    }
  }

  void Decide() {
    if (!in_.spec_errors.empty()) return InvalidSpec();
    if (IsTerminal(st().phase)) return Finished();
    if (job_.spec.run_policy.suspend) return Suspend();
    if (st().phase == JobPhase::kSuspended) return Resume();
    if (DeadlineExceeded()) return;
    if (st().phase == JobPhase::kRestarting) return Restarting();
    if (!st().phase) st().phase = JobPhase::kPending;
    if (Succeeded()) return;
    if (CountInPlaceRestarts()) return;
    if (auto failure = FindFailure()) return Fail(*failure);
    if (!CreatedAll()) return CreateGang();
    Progress();
  }

  void InvalidSpec() {
    DeletePods(/*include_finished=*/false);
    if (st().phase != JobPhase::kFailed) {
      std::string message = SpecErrorsMessage(in_.spec_errors, api::limits::kMaxStatusMessageLength);
      st().phase = JobPhase::kFailed;
      st().message = message;
      st().completion_time = now_;
      Condition("Failed", kTrue, "InvalidSpec", message);
      Event(kWarning, "InvalidSpec", SpecErrorsMessage(in_.spec_errors, kMaxEventMessageLength));
    }
    // A job that failed validation is finished too: ttlSecondsAfterFinished still applies
    // (when it parsed), so invalid jobs do not pile up.
    ExpireAfterTtl();
  }

  void Finished() {
    switch (job_.spec.run_policy.clean_pod_policy) {
      case api::CleanPodPolicy::kRunning: DeletePods(/*include_finished=*/false); break;
      case api::CleanPodPolicy::kAll: DeletePods(/*include_finished=*/true); break;
      case api::CleanPodPolicy::kNone: break;
    }
    ExpireAfterTtl();
  }

  void ExpireAfterTtl() {
    const auto& ttl = job_.spec.run_policy.ttl_seconds_after_finished;
    auto completed = ParseRfc3339(st().completion_time);
    if (ttl && completed) {
      auto expires = *completed + std::chrono::seconds(*ttl);
      if (in_.now >= expires) {
        plan_.delete_job = true;
      } else {
        RequeueAt(expires);
      }
    }
  }

  void Suspend() {
    DeletePods(/*include_finished=*/true);
    if (st().phase == JobPhase::kSuspended) return;
    st().phase = JobPhase::kSuspended;
    st().message = "suspended: workers deleted; set spec.runPolicy.suspend=false to resume";
    Condition("Suspended", kTrue, "Suspended", "spec.runPolicy.suspend is true");
    Condition("Running", kFalse, "Suspended", "the job is suspended");
    if (FindCondition(st().conditions, "GangScheduled")) {
      Condition("GangScheduled", kFalse, "Suspended", "the job is suspended");
    }
    Event(kNormal, "Suspended", "job suspended; all workers deleted");
  }

  // Pods that still have to go before a new attempt starts: all but those on lost nodes,
  // whose kubelets will never confirm (they are force-deleted later, ForceDeleteStuckPods).
  bool WaitingForOldPods() const {
    return std::any_of(in_.pods.begin(), in_.pods.end(),
                       [&](const ObservedPod& p) { return !OnLostNode(p, in_.lost_nodes); });
  }

  void Resume() {
    if (WaitingForOldPods()) {  // the suspended attempt's pods must be gone first
      DeletePods(/*include_finished=*/true);
      RequeueAfter(milliseconds(500));
      return;
    }
    DeletePods(/*include_finished=*/true);  // those on lost nodes: asked once, never confirmed
    StartNewAttempt();
    st().start_time = now_;  // like batch/v1 Job: the deadline counts from the resume
    Condition("Suspended", kFalse, "Resumed", "spec.runPolicy.suspend is false");
    Event(kNormal, "Resumed", "job resumed as attempt " + std::to_string(st().attempt));
  }

  void StartNewAttempt() {
    st().attempt += 1;
    st().in_place_restarts = 0;  // counted per attempt (status.progress.inPlaceRestarts)
    st().phase = JobPhase::kPending;
    st().message = "attempt " + std::to_string(st().attempt) + " is waiting to start";
    if (FindCondition(st().conditions, "Admitted")) {
      Condition("Admitted", kFalse, "NewAttempt", st().message);
    }
    if (FindCondition(st().conditions, "GangScheduled")) {
      // Unknown, not False: the gang timeout runs from this condition's lastTransitionTime,
      // and the new attempt's CreatingPods=False must stamp a fresh one.
      Condition("GangScheduled", "Unknown", "NewAttempt", st().message);
    }
    RequeueAfter(milliseconds(0));
  }

  bool DeadlineExceeded() {
    const auto& deadline = job_.spec.run_policy.active_deadline_seconds;
    auto started = ParseRfc3339(st().start_time);
    if (!deadline || !started) return false;
    auto at = *started + std::chrono::seconds(*deadline);
    if (in_.now < at) {
      RequeueAt(at);
      return false;
    }
    std::string message = "the job ran longer than activeDeadlineSeconds=" + std::to_string(*deadline);
    MarkFailed("DeadlineExceeded", message, "DeadlineExceeded", message, "DeadlineExceeded");
    plan_.requeue_after.reset();
    Finished();
    DeletePods(/*include_finished=*/false);  // whatever the clean policy: the deadline stops work
    return true;
  }

  void Restarting() {
    DeletePods(/*include_finished=*/true);
    if (WaitingForOldPods()) {
      RequeueAfter(milliseconds(500));  // pod deletions also wake the job
      return;
    }
    auto since = ConditionTime(st(), "Restarting").value_or(in_.now);
    auto at = since + RestartBackoff(st().restarts, opt_.restart_backoff_base, opt_.restart_backoff_cap);
    if (in_.now < at) {
      RequeueAt(at);
      return;
    }
    StartNewAttempt();
    Condition("Restarting", kFalse, "NewAttempt", "attempt " + std::to_string(st().attempt) + " started");
  }

  bool Succeeded() {
    bool done = false;
    std::string reason;
    if (job_.spec.run_policy.success_policy == api::SuccessPolicy::kRankZero) {
      auto it = current_.find(0);
      done = it != current_.end() && it->second->phase == "Succeeded";
      reason = "RankZeroSucceeded";
    } else {
      int64_t succeeded = 0;
      for (const auto& [rank, p] : current_) succeeded += p->phase == "Succeeded";
      done = succeeded == job_.spec.workers;
      reason = "AllWorkersSucceeded";
    }
    if (!done) return false;
    std::string message = reason == "RankZeroSucceeded" ? "worker 0 succeeded"
                                                         : "all " + std::to_string(job_.spec.workers) +
                                                               " workers succeeded";
    st().phase = JobPhase::kSucceeded;
    st().message = message;
    st().completion_time = now_;
    Condition("Succeeded", kTrue, reason, message);
    Condition("Running", kFalse, "Completed", message);
    Event(kNormal, "Succeeded", message);
    Finished();
    return true;
  }

  bool CreatedAll() const {
    const api::Condition* c = FindCondition(job_.status.conditions, "GangScheduled");
    return c != nullptr && (c->reason == kPodsCreated || c->reason == kAllRunning);
  }

  std::optional<AttemptFailure> FindFailure() {
    // A worker whose node is lost or whose pod Kubernetes is taking away (preemption, eviction)
    // goes first: its peers then fail on the broken collective (exit 1, which restartPolicy
    // ExitCode would call permanent), and a lost node's pods never report an exit at all.
    for (const auto& [rank, p] : current_) {
      if (auto disruption = WorkerDisruption(*p, in_.lost_nodes)) return disruption;
    }
    // Among failed workers, the root cause by the rule local mode applies too.
    std::vector<FailedWorker> failed;
    std::vector<const ObservedPod*> failed_pods;
    for (const auto& [rank, p] : current_) {
      if (p->phase != "Failed") continue;
      failed.push_back({rank, p->exit_code, p->finished_at});
      failed_pods.push_back(p);
    }
    const auto root_cause = PickRootCause(failed);
    const ObservedPod* first = root_cause ? failed_pods[*root_cause] : nullptr;
    for (const auto& [rank, p] : current_) {
      if (first != nullptr && p != first) continue;
      if (p->phase == "Failed") {
        AttemptFailure f;
        f.kind = p->disrupted ? FailureKind::kDisruption : FailureKind::kExitCode;
        f.rank = rank;
        f.exit_code = p->exit_code;
        f.reason = p->disrupted ? DisruptionReason(p->reason) : p->reason;
        f.message = "pod " + p->name;
        if (p->disrupted && !p->node_name.empty()) f.message += " on node " + p->node_name;
        return f;
      }
      if (p->terminating && p->phase != "Succeeded") {
        return AttemptFailure{FailureKind::kDisruption, rank, std::nullopt, "Deleted",
                              "pod " + p->name + " is being deleted"};
      }
    }
    const bool created_all = CreatedAll();
    if (created_all) {
      for (int64_t rank = 0; rank < job_.spec.workers; ++rank) {
        if (!current_.count(rank)) {
          return AttemptFailure{FailureKind::kDisruption, rank, std::nullopt, "Deleted",
                                "pod " + api::WorkerPodName(job_.metadata.name, rank) + " was deleted"};
        }
      }
    }
    if (auto timeout = GangTimeout(created_all)) return timeout;
    return Stalled();
  }

  // spec.runPolicy.progressDeadlineSeconds: a Running gang must advance status.progress.step
  // within it. The runtime reports a step only when it advanced, so updatedAt is when the step
  // last moved; the clock starts no earlier than when this attempt's gang went Running (an
  // older attempt's report, or none at all, counts from there).
  std::optional<AttemptFailure> Stalled() {
    const auto& deadline = job_.spec.run_policy.progress_deadline_seconds;
    if (!deadline || !ConditionIs(st(), "GangScheduled", kTrue)) return std::nullopt;
    auto since = ConditionTime(st(), "GangScheduled");
    if (!since) return std::nullopt;
    auto last = *since;
    const std::optional<api::Progress>& progress = st().progress;
    std::optional<std::chrono::system_clock::time_point> reported;
    if (progress) reported = ParseRfc3339(progress->updated_at);
    if (reported && *reported > last) last = *reported;
    auto at = last + std::chrono::seconds(*deadline);
    if (in_.now < at) {
      RequeueAt(at);
      return std::nullopt;
    }
    std::string seen = reported && *reported >= *since
                           ? "step " + std::to_string(progress->step) + " was last reported at " + progress->updated_at
                           : "no step was reported since the gang started running at " + FormatRfc3339(*since);
    return AttemptFailure{FailureKind::kStalled, -1, std::nullopt, "Stalled",
                          "no progress for " + std::to_string(*deadline) + "s (progressDeadlineSeconds): " + seen};
  }

  // Restarts the launchers did in place (status.progress.inPlaceRestarts, written by rank 0 of
  // this attempt) count as restarts: against backoffLimit, in status.restarts (the RESTARTS
  // column), one RestartedInPlace Event each time more are seen. True when that went past
  // backoffLimit and the job failed.
  bool CountInPlaceRestarts() {
    const std::optional<api::Progress>& progress = st().progress;
    if (!progress || progress->attempt != st().attempt) return false;
    const int32_t seen = progress->in_place_restarts;
    if (seen <= st().in_place_restarts) return false;
    const int32_t added = seen - st().in_place_restarts;
    st().in_place_restarts = seen;
    st().restarts += added;
    const int64_t limit = job_.spec.run_policy.backoff_limit;
    std::string what = "the workers restarted in place " + std::to_string(seen) +
                       (seen == 1 ? " time" : " times") + " in attempt " + std::to_string(st().attempt);
    if (st().restarts <= limit) {
      Event(kWarning, "RestartedInPlace",
            what + " (restart " + std::to_string(st().restarts) + " of " + std::to_string(limit) + ")");
      return false;
    }
    std::string message = what + "; backoffLimit " + std::to_string(limit) + " exceeded after " +
                          std::to_string(st().restarts) + " restarts";
    Event(kWarning, "RestartedInPlace", what);
    MarkFailed("BackoffLimitExceeded", message, "RestartedInPlace", what, "Failed");
    Finished();
    return true;
  }

  // The gang timeout runs from the moment this attempt started creating pods (GangScheduled
  // turned False with CreatingPods; PodsCreated keeps that transition time), not from when the
  // last pod appeared: creates that keep failing (quota, a webhook, RBAC) must not let the pods
  // that did get created hold their nodes forever. Before that moment (Pending, waiting for
  // capacity, or Unknown at a new attempt) there is no gang to time out.
  std::optional<AttemptFailure> GangTimeout(bool created_all) {
    const api::Condition* c = FindCondition(job_.status.conditions, "GangScheduled");
    if (c == nullptr || c->status != kFalse || (c->reason != kCreatingPods && c->reason != kPodsCreated)) {
      return std::nullopt;
    }
    auto since = ParseRfc3339(c->last_transition_time);
    if (!since) return std::nullopt;
    auto at = *since + std::chrono::seconds(job_.spec.gang.timeout_seconds);
    if (in_.now < at) {
      RequeueAt(at);
      return std::nullopt;
    }
    const std::string after = " after " + std::to_string(job_.spec.gang.timeout_seconds) + "s";
    const std::string workers = std::to_string(job_.spec.workers);
    std::string message = created_all ? std::to_string(RunningCount()) + " of " + workers + " Running" + after
                                      : "only " + std::to_string(current_.size()) + " of " + workers +
                                            " pods created (" + std::to_string(RunningCount()) + " Running)" +
                                            after;
    return AttemptFailure{FailureKind::kGangTimeout, -1, std::nullopt, "GangTimeout", message};
  }

  bool HasPodsOfThisAttempt() const {
    return std::any_of(in_.pods.begin(), in_.pods.end(),
                       [&](const ObservedPod& p) { return p.attempt == job_.status.attempt; });
  }

  int64_t RunningCount() const {
    int64_t n = 0;
    for (const auto& [rank, p] : current_) n += p->phase == "Running" || p->phase == "Succeeded";
    return n;
  }

  void Fail(const AttemptFailure& failure) {
    // Node loss, preemption, eviction and stalls are named by their own reason (the Event and
    // the Restarting condition); a worker's exit is WorkerFailed / GangRestarting.
    const bool named = (failure.kind == FailureKind::kDisruption &&
                        (failure.reason == "NodeLost" || failure.reason == "Preempted" ||
                         failure.reason == "Evicted")) ||
                       failure.kind == FailureKind::kStalled;
    Event(kWarning, named ? failure.reason : std::string("WorkerFailed"), DescribeFailure(failure));
    RestartDecision d = DecideRestart(job_.spec.run_policy, st().restarts, failure);
    if (d.retry) {
      st().restarts += 1;
      st().phase = JobPhase::kRestarting;
      st().message = d.message;
      Condition("Restarting", kTrue, named ? failure.reason : std::string("GangRestarting"), d.message);
      Condition("Running", kFalse, "WorkerFailed", DescribeFailure(failure));
      Condition("GangScheduled", kFalse, "Restarting", "the gang is being torn down");
      Event(kWarning, "GangRestarting", d.message);
      DeletePods(/*include_finished=*/true);
      plan_.restarted = true;
      RequeueAfter(RestartBackoff(st().restarts, opt_.restart_backoff_base, opt_.restart_backoff_cap));
      return;
    }
    MarkFailed(d.reason, d.message, "WorkerFailed", DescribeFailure(failure), "Failed");
    Finished();
  }

  void CreateGang() {
    const auto scheduler = job_.spec.gang.scheduler;
    if (!ConditionIs(st(), "Admitted", kTrue)) {
      if (scheduler == api::GangScheduler::kBuiltin && !in_.admission && HasPodsOfThisAttempt()) {
        // The gang was admitted and its pods created, but the status that says so was never
        // written: that write got a 409, or the operator stopped between the creates and the
        // write. NeedsAdmission is false once pods exist, so no capacity check comes; record
        // the admission the pods prove instead of waiting for one forever.
        std::string message = "admitted earlier: pods of attempt " + std::to_string(st().attempt) + " exist";
        Condition("Admitted", kTrue, "GangAdmitted", message);
        Event(kNormal, "GangAdmitted", "gang of " + std::to_string(job_.spec.workers) + " workers " + message);
      } else if (scheduler == api::GangScheduler::kBuiltin) {
        if (!in_.admission) {  // the caller did not check capacity; try again
          RequeueAfter(milliseconds(0));
          return;
        }
        if (!in_.admission->fits) {
          st().phase = JobPhase::kPending;
          st().message = "waiting for capacity: " + in_.admission->message;
          Condition("Admitted", kFalse, "InsufficientCapacity", in_.admission->message);
          RequeueAfter(opt_.admission_retry);
          return;
        }
        Condition("Admitted", kTrue, "GangAdmitted", in_.admission->message);
        Event(kNormal, "GangAdmitted", "gang of " + std::to_string(job_.spec.workers) +
                                           " workers admitted: " + in_.admission->message);
      } else {
        std::string who = scheduler == api::GangScheduler::kNone ? std::string("no gang scheduler")
                                                                  : std::string(api::ToString(scheduler));
        Condition("Admitted", kTrue, "GangAdmitted", "admission delegated to " + who);
        Event(kNormal, "GangAdmitted", "admission delegated to " + who);
      }
      plan_.admitted = true;
    }
    plan_.create_service = !in_.service_exists;
    plan_.create_podgroup = (scheduler == api::GangScheduler::kVolcano ||
                             scheduler == api::GangScheduler::kCoscheduling) &&
                            !in_.podgroup_exists;
    std::map<std::string, const ObservedPod*> stale_by_name;
    for (const ObservedPod* p : stale_) {
      stale_by_name[p->name] = p;
      if (!p->terminating) plan_.delete_pods.push_back(p->name);
    }
    bool waiting_for_stale = false;
    for (int64_t rank = 0; rank < job_.spec.workers; ++rank) {
      if (current_.count(rank)) continue;
      std::string name = api::WorkerPodName(job_.metadata.name, rank);
      if (auto held = stale_by_name.find(name); held != stale_by_name.end()) {
        if (!OnLostNode(*held->second, in_.lost_nodes)) {
          waiting_for_stale = true;  // same name, older attempt: create once it is gone
          continue;
        }
        // Its kubelet is gone and will not confirm the deletion for a long while (or ever):
        // the new worker takes a name of its own rather than wait.
        name = WorkerPodNameOfAttempt(job_.metadata.name, rank, st().attempt);
        if (stale_by_name.count(name)) {
          waiting_for_stale = true;
          continue;
        }
      }
      plan_.create_ranks.push_back(rank);
      plan_.create_names.push_back(std::move(name));
    }
    if (st().start_time.empty()) st().start_time = now_;
    st().phase = JobPhase::kScheduling;
    const int64_t existing = static_cast<int64_t>(current_.size());
    if (existing < job_.spec.workers) {
      std::string message = std::to_string(existing) + "/" + std::to_string(job_.spec.workers) +
                            " pods of attempt " + std::to_string(st().attempt) + " exist";
      st().message = "creating workers: " + message;
      Condition("GangScheduled", kFalse, kCreatingPods, message);
      if (waiting_for_stale) RequeueAfter(milliseconds(500));
      return;
    }
    // Every pod of the attempt exists (the cache has seen them all): release the gang.
    std::string message = "all " + std::to_string(job_.spec.workers) + " pods of attempt " +
                          std::to_string(st().attempt) + " created; waiting for them to run";
    st().message = message;
    Condition("GangScheduled", kFalse, kPodsCreated, message);
    Event(kNormal, "GangCreated", message);
    for (const auto& [rank, p] : current_) {
      if (p->gated) plan_.ungate_pods.push_back(p->name);
    }
    RequeueAfter(std::chrono::seconds(job_.spec.gang.timeout_seconds));
  }

  void Progress() {
    for (const auto& [rank, p] : current_) {
      if (p->gated) plan_.ungate_pods.push_back(p->name);  // a gate removal that failed earlier
    }
    for (const ObservedPod* p : stale_) {
      if (!p->terminating) plan_.delete_pods.push_back(p->name);
    }
    const int64_t running = RunningCount();
    if (running == job_.spec.workers) {
      if (!ConditionIs(st(), "GangScheduled", kTrue)) {
        std::string message = "all " + std::to_string(job_.spec.workers) + " workers running";
        Condition("GangScheduled", kTrue, kAllRunning, message);
        Condition("Running", kTrue, "GangRunning", message);
        if (FindCondition(st().conditions, "Restarting")) {
          Condition("Restarting", kFalse, "GangRunning", message);
        }
        Event(kNormal, "GangRunning", message);
      }
      st().phase = JobPhase::kRunning;
      st().message = "all " + std::to_string(job_.spec.workers) + " workers running";
      return;
    }
    if (ConditionIs(st(), "GangScheduled", kTrue)) {
      st().phase = JobPhase::kRunning;  // some finished early (AllWorkers waits for the rest)
      st().message = std::to_string(running) + " of " + std::to_string(job_.spec.workers) +
                     " workers running, the others finished";
      return;
    }
    st().phase = JobPhase::kScheduling;
    st().message = std::to_string(running) + " of " + std::to_string(job_.spec.workers) + " workers running";
  }

  // Pods on lost nodes whose grace period ended a margin ago are force-deleted: their kubelets
  // will not confirm, and each would otherwise stay Terminating (holding its name and, in the
  // scheduler's view, its node's capacity) until the node is deleted.
  void ForceDeleteStuckPods() {
    StuckPods stuck = FindStuckPods(in_.pods, in_.lost_nodes, in_.now, opt_.stuck_pod_margin);
    for (StuckPod& p : stuck.force_delete) {
      Event(kWarning, "ForceDeleted", p.message);
      plan_.force_delete_pods.push_back(std::move(p.name));
    }
    if (stuck.next_check) RequeueAt(*stuck.next_check);
  }

  void CountWorkers() {
    api::WorkerCounts counts;
    const auto& deleting = plan_.delete_pods;
    for (const auto& [rank, p] : current_) {
      // A pod being deleted (by this step or earlier: suspend, restart, clean-up) no longer
      // runs for the job, even while its grace period keeps it Running and Ready; counting
      // it would show a Suspended or Restarting job as "3/3" ready.
      bool going = p->terminating || std::find(deleting.begin(), deleting.end(), p->name) != deleting.end();
      bool finished = p->phase == "Succeeded" || p->phase == "Failed";
      if (going && !finished) continue;
      if (p->phase == "Pending") counts.pending++;
      else if (p->phase == "Running") counts.running++;
      else if (p->phase == "Succeeded") counts.succeeded++;
      else if (p->phase == "Failed") counts.failed++;
      if (p->phase == "Running" && p->ready) counts.ready++;
    }
    st().workers = counts;
    st().ready = std::to_string(counts.ready) + "/" + std::to_string(job_.spec.workers);
  }

  const StateInput& in_;
  const StateOptions& opt_;
  const api::TrainingJob& job_;
  StatePlan plan_;
  std::string now_;
  int64_t gen_ = 0;
  std::map<int64_t, const ObservedPod*> current_;
  std::vector<const ObservedPod*> stale_;
};

}  // namespace

const api::Condition* FindCondition(const std::vector<api::Condition>& conditions, const std::string& type) {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

void SetCondition(std::vector<api::Condition>& conditions, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, const std::string& now,
                  int64_t generation) {
  for (auto& c : conditions) {
    if (c.type != type) continue;
    if (c.status != status) c.last_transition_time = now;
    c.status = status;
    c.reason = reason;
    c.message = message;
    c.observed_generation = generation;
    return;
  }
  conditions.push_back({type, status, reason, message, now, generation});
}

bool NeedsAdmission(const api::TrainingJob& job, const std::vector<ObservedPod>& pods) {
  const auto& st = job.status;
  if (job.spec.gang.scheduler != api::GangScheduler::kBuiltin) return false;
  if (IsKueueManaged(job)) return false;  // Kueue admits it (kueue_workload.h)
  if (IsTerminal(st.phase) || st.phase == JobPhase::kRestarting || st.phase == JobPhase::kSuspended) {
    return false;
  }
  if (job.spec.run_policy.suspend || ConditionIs(st, "Admitted", kTrue)) return false;
  for (const ObservedPod& p : pods) {
    if (p.attempt == st.attempt) return false;  // pods of this attempt already exist
  }
  return true;
}

std::string WorkerPodNameOfAttempt(const std::string& job_name, int64_t rank, int64_t attempt) {
  return api::WorkerPodName(job_name, rank) + "-a" + std::to_string(attempt);
}

StatePlan DecideNextState(const StateInput& input, const StateOptions& options) {
  return Step(input, options).Run();
}

}  // namespace ringleader::controller
