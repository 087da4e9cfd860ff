#pragma once
// The decision step of the TrainingJob state machine (DecideNextState): one Step per call holds
// the input, the plan being built and the pods of the current attempt. Private to the policy
// library: trainingjob_state.cc holds the job's lifecycle (spec errors, suspend, deadlines,
// restarts, success, failure, TTL) and trainingjob_attempt.cc what is observed of the current
// attempt (creating the gang, finding the failure that ends it, progress, worker counts).
//
// Thread-safety: a Step lives on one thread for one call.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/common/rfc3339.h"
#include "ringleader/policy/restart_policy.h"
#include "ringleader/policy/trainingjob_state.h"

namespace ringleader::controller::state_step {

using api::JobPhase;
using std::chrono::milliseconds;

inline constexpr const char* kTrue = "True";
inline constexpr const char* kFalse = "False";
inline constexpr const char* kNormal = "Normal";
inline constexpr const char* kWarning = "Warning";

// Reasons of the GangScheduled condition that mean "every pod of this attempt was seen".
inline constexpr const char* kCreatingPods = "CreatingPods";
inline constexpr const char* kPodsCreated = "PodsCreated";
inline constexpr const char* kAllRunning = "AllRunning";

bool IsTerminal(const std::optional<JobPhase>& phase);
bool ConditionIs(const api::TrainingJobStatus& st, const std::string& type, const std::string& status);
std::optional<std::chrono::system_clock::time_point> ConditionTime(const api::TrainingJobStatus& st,
                                                                   const std::string& type);

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

  StatePlan Run();

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
  void DeletePods(bool include_finished);

  void Decide();

  void InvalidSpec();

  void Finished();

  void ExpireAfterTtl();

  void Suspend();

  // Pods that still have to go before a new attempt starts: all but those on lost nodes,
  // whose kubelets will never confirm (they are force-deleted later, ForceDeleteStuckPods).
  bool WaitingForOldPods() const {
    return std::any_of(in_.pods.begin(), in_.pods.end(),
                       [&](const ObservedPod& p) { return !OnLostNode(p, in_.lost_nodes); });
  }

  void Resume();

  void StartNewAttempt();

  bool DeadlineExceeded();

  void Restarting();

  bool Succeeded();

  bool CreatedAll() const;

  std::optional<AttemptFailure> FindFailure();

  // spec.runPolicy.progressDeadlineSeconds: a Running gang must advance status.progress.step
  // within it. The runtime reports a step only when it advanced, so updatedAt is when the step
  // last moved; the clock starts no earlier than when this attempt's gang went Running (an
  // older attempt's report, or none at all, counts from there).
  std::optional<AttemptFailure> Stalled();

  // Restarts the launchers did in place (status.progress.inPlaceRestarts, written by rank 0 of
  // this attempt) count as restarts: against backoffLimit, in status.restarts (the RESTARTS
  // column), one RestartedInPlace Event each time more are seen. True when that went past
  // backoffLimit and the job failed.
  bool CountInPlaceRestarts();

  // The gang timeout runs from the moment this attempt started creating pods (GangScheduled
  // turned False with CreatingPods; PodsCreated keeps that transition time), not from when the
  // last pod appeared: creates that keep failing (quota, a webhook, RBAC) must not let the pods
  // that did get created hold their nodes forever. Before that moment (Pending, waiting for
  // capacity, or Unknown at a new attempt) there is no gang to time out.
  std::optional<AttemptFailure> GangTimeout(bool created_all);

  bool HasPodsOfThisAttempt() const;

  int64_t RunningCount() const;

  void Fail(const AttemptFailure& failure);

  void CreateGang();

  void Progress();

  // Pods on lost nodes whose grace period ended a margin ago are force-deleted: their kubelets
  // will not confirm, and each would otherwise stay Terminating (holding its name and, in the
  // scheduler's view, its node's capacity) until the node is deleted.
  void ForceDeleteStuckPods();

  void CountWorkers();

  const StateInput& in_;
  const StateOptions& opt_;
  const api::TrainingJob& job_;
  StatePlan plan_;
  std::string now_;
  int64_t gen_ = 0;
  std::map<int64_t, const ObservedPod*> current_;
  std::vector<const ObservedPod*> stale_;
};

}  // namespace ringleader::controller::state_step
