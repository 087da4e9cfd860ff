#include <algorithm>

#include "ringleader/api/limits.h"
#include "ringleader/api/worker_env_builder.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/policy/failure_attribution.h"
#include "trainingjob_step.h"

namespace ringleader::controller::state_step {

bool Step::CreatedAll() const {
  const api::Condition* c = FindCondition(job_.status.conditions, "GangScheduled");
  return c != nullptr && (c->reason == kPodsCreated || c->reason == kAllRunning);
}

std::optional<AttemptFailure> Step::FindFailure() {
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

std::optional<AttemptFailure> Step::Stalled() {
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

bool Step::CountInPlaceRestarts() {
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

std::optional<AttemptFailure> Step::GangTimeout(bool created_all) {
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

bool Step::HasPodsOfThisAttempt() const {
  return std::any_of(in_.pods.begin(), in_.pods.end(),
                     [&](const ObservedPod& p) { return p.attempt == job_.status.attempt; });
}

int64_t Step::RunningCount() const {
  int64_t n = 0;
  for (const auto& [rank, p] : current_) n += p->phase == "Running" || p->phase == "Succeeded";
  return n;
}

void Step::CreateGang() {
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

void Step::Progress() {
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

void Step::ForceDeleteStuckPods() {
  StuckPods stuck = FindStuckPods(in_.pods, in_.lost_nodes, in_.now, opt_.stuck_pod_margin);
  for (StuckPod& p : stuck.force_delete) {
    Event(kWarning, "ForceDeleted", p.message);
    plan_.force_delete_pods.push_back(std::move(p.name));
  }
  if (stuck.next_check) RequeueAt(*stuck.next_check);
}

void Step::CountWorkers() {
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

}  // namespace ringleader::controller::state_step
