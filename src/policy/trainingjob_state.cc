#include "ringleader/policy/trainingjob_state.h"

#include <algorithm>
#include <map>

#include "ringleader/api/limits.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/api/worker_env_builder.h"
#include "ringleader/policy/kueue_workload.h"
#include "ringleader/policy/restart_policy.h"
#include "trainingjob_step.h"

namespace ringleader::controller::state_step {

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

namespace {

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


}  // namespace

StatePlan Step::Run() {
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

void Step::DeletePods(bool include_finished) {
  for (const ObservedPod& p : in_.pods) {
    if (p.terminating) continue;
    bool finished = p.phase == "Succeeded" || p.phase == "Failed";
    if (include_finished || !finished) plan_.delete_pods.push_back(p.name);
  }
}

void Step::Decide() {
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

void Step::InvalidSpec() {
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

void Step::Finished() {
  switch (job_.spec.run_policy.clean_pod_policy) {
    case api::CleanPodPolicy::kRunning: DeletePods(/*include_finished=*/false); break;
    case api::CleanPodPolicy::kAll: DeletePods(/*include_finished=*/true); break;
    case api::CleanPodPolicy::kNone: break;
  }
  ExpireAfterTtl();
}

void Step::ExpireAfterTtl() {
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

void Step::Suspend() {
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

void Step::Resume() {
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

void Step::StartNewAttempt() {
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

bool Step::DeadlineExceeded() {
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

void Step::Restarting() {
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

bool Step::Succeeded() {
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

void Step::Fail(const AttemptFailure& failure) {
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

}  // namespace ringleader::controller::state_step

namespace ringleader::controller {

using api::JobPhase;
using state_step::ConditionIs;
using state_step::IsTerminal;
using state_step::kTrue;
using state_step::Step;

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
