#pragma once
// The TrainingJob state machine as one pure function: given the job, what is observed of its
// children and the time, decide the next status and the actions that move the world toward
// it. Level-based: nothing here remembers earlier calls; everything it needs is in the job's
// status (phase, attempt, restarts, condition times) and in the observed pods.
//
//   Pending ──admitted──▶ Scheduling ──all Running──▶ Running ──success policy──▶ Succeeded
//      ▲                      │  worker failed / deleted / gang timeout │
//      │                      ▼                                         ▼
//      └──backoff, attempt+1── Restarting ◀───────────── (retryable)   Failed (permanent,
//                                                                      backoffLimit, deadline)
//   spec.runPolicy.suspend: any active phase ──▶ Suspended ──resume──▶ Pending (attempt+1)

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/api/field_error.h"
#include "ringleader/api/trainingjob.h"
#include "ringleader/policy/disruption.h"
#include "ringleader/policy/gang_admission.h"
#include "ringleader/policy/observed_pod.h"

namespace ringleader::controller {

struct StateOptions {
  std::chrono::milliseconds restart_backoff_base{std::chrono::seconds(10)};
  std::chrono::milliseconds restart_backoff_cap{std::chrono::minutes(5)};
  // How often a job waiting for capacity is looked at again (node and pod events also wake it).
  std::chrono::milliseconds admission_retry{std::chrono::seconds(5)};
  // A pod being deleted on a lost node is force-deleted this long after its grace period ended
  // (disruption.h, FindStuckPods).
  std::chrono::milliseconds stuck_pod_margin{std::chrono::seconds(15)};
  // How often a gang whose scheduler's PodGroup CRD is missing is looked at again.
  std::chrono::milliseconds podgroup_crd_retry{std::chrono::seconds(60)};
};

struct StateInput {
  api::TrainingJob job;
  std::vector<api::FieldError> spec_errors;  // from api::ParseTrainingJob
  std::vector<ObservedPod> pods;             // every pod the job owns
  bool service_exists = false;
  bool podgroup_exists = false;
  // The apiVersion of the gang scheduler's PodGroup when the cluster does not serve it (the
  // API server answered 404 to its create); empty when it is served or not yet known. The
  // caller learns it only by trying the create the plan asked for, and then decides again.
  std::string missing_podgroup_api;
  // Set by the caller when NeedsAdmission(...) said so (Builtin gangs only).
  std::optional<AdmissionResult> admission;
  // The lost nodes among those the job's pods are bound to (disruption.h).
  LostNodes lost_nodes;
  std::chrono::system_clock::time_point now;
};

struct JobEvent {
  std::string type;  // Normal or Warning
  std::string reason;
  std::string message;
};

struct StatePlan {
  api::TrainingJobStatus status;  // the status to write (written only if it differs)
  bool create_service = false;
  bool create_podgroup = false;
  std::vector<int64_t> create_ranks;       // pods of status.attempt to create
  // Their names, one per create_ranks entry: api::WorkerPodName, or WorkerPodNameOfAttempt
  // when a pod of an older attempt stuck on a lost node still holds that name.
  std::vector<std::string> create_names;
  std::vector<std::string> delete_pods;    // pod names
  // Stuck on a lost node past their grace period: deleted with gracePeriodSeconds 0.
  std::vector<std::string> force_delete_pods;
  std::vector<std::string> ungate_pods;    // remove the ringleader.dev/gang gate
  bool delete_job = false;                 // TTL after finished expired
  std::vector<JobEvent> events;
  std::optional<std::chrono::milliseconds> requeue_after;
  bool restarted = false;                  // this step began a gang restart (metrics)
  bool admitted = false;                   // this step admitted the gang (metrics)
};

// True when the job's current attempt is waiting for Builtin admission: the caller must then
// compute StateInput::admission.
// The name of a worker of `attempt` whose usual name (api::WorkerPodName) is still held by a
// pod of an older attempt stuck on a lost node: "<job>-worker-<rank>-a<attempt>". Its hostname
// stays the usual one, so the gang's addresses do not change.
std::string WorkerPodNameOfAttempt(const std::string& job_name, int64_t rank, int64_t attempt);

bool NeedsAdmission(const api::TrainingJob& job, const std::vector<ObservedPod>& pods);

StatePlan DecideNextState(const StateInput& input, const StateOptions& options = {});

// When input.missing_podgroup_api is set and the plan wants a PodGroup: hold the gang Pending
// with Admitted=False/PodGroupCRDMissing, create nothing the scheduler would never schedule,
// and look again after options.podgroup_crd_retry (installing the CRD later just works).
// Idempotent, so each decision function may apply it last.
void HoldForMissingPodGroupCrd(const StateInput& input, const StateOptions& options, StatePlan& plan);
inline constexpr const char* kPodGroupCrdMissing = "PodGroupCRDMissing";

// Sets (or updates) a condition, keeping lastTransitionTime when the status did not change.
void SetCondition(std::vector<api::Condition>& conditions, const std::string& type,
                  const std::string& status, const std::string& reason, const std::string& message,
                  const std::string& now, int64_t generation);
const api::Condition* FindCondition(const std::vector<api::Condition>& conditions, const std::string& type);

}  // namespace ringleader::controller
