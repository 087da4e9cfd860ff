#pragma once
// Kueue integration, the pure part: pure functions of a TrainingJob, its Workload and what is
// observed of its Pods (no client, no clock). kueue_adapter.h does the API calls.
//
// A TrainingJob labelled kueue.x-k8s.io/queue-name=<LocalQueue> is admitted by Kueue instead
// of by the operator: it gets one Workload (kueue.x-k8s.io/v1beta2, the version Kueue serves
// since v0.15 and stores since v0.16; v1beta1 is deprecated and unserved from v0.20), owned by
// the job and kept across its attempts, with one pod set `workers` (count = spec.workers, the
// Pod template the operator creates, the Pods' priority class). It mirrors what Kueue's own
// job integrations do (sigs.k8s.io/kueue pkg/controller/jobframework):
//
//   no Workload            create it; the job waits in phase Queued, no Pods
//   not admitted           Queued (message: LocalQueue, ClusterQueue, Kueue's reason)
//   Admitted=True          the gang starts with the admission applied to every Pod: the
//                          assigned ResourceFlavors' nodeLabels become nodeSelector entries and
//                          their tolerations are added (podset.FromAssignment/Merge), as are
//                          admission checks' podSetUpdates; the state machine runs as usual
//                          (gang.scheduler as set), restarts keep the admission
//   Pods all Ready         PodsReady=True on the Workload (Kueue's waitForPodsReady)
//   job Succeeded/Failed   Finished=True on the Workload (Kueue releases the quota)
//   Evicted=True, or the   the gang is stopped (Pods deleted with their grace period: SIGTERM
//   admission removed      first, so the runtime can checkpoint), the job goes back to Queued
//                          with Admitted=False/Evicted and an Event saying why; once no Pod is
//                          left the operator gives the quota back (QuotaReserved=False,
//                          admission cleared, Requeued) as Kueue's integrations do, and the next
//                          admission starts a new attempt. Evictions are not restarts: they do
//                          not count against backoffLimit.
//   suspend: true          the Workload is deleted (its quota freed); resume queues a new one
//
// Kueue's API missing (CRD not installed, RBAC) is an input (KueueInput::unavailable): the
// job says so in status (Admitted=False/KueueCRDMissing) and is looked at again later, never
// in an error loop.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/api/trainingjob.h"
#include "ringleader/common/status.h"
#include "ringleader/policy/trainingjob_state.h"

namespace ringleader::controller {

inline constexpr const char* kKueueGroup = "kueue.x-k8s.io";
inline constexpr const char* kKueueVersion = "v1beta2";
inline constexpr const char* kKueueApiVersion = "kueue.x-k8s.io/v1beta2";
// The label that puts a job into a LocalQueue (Kueue's own convention for every integration).
inline constexpr const char* kKueueQueueNameLabel = "kueue.x-k8s.io/queue-name";
// Kueue's labels on Workloads and admitted Pods.
inline constexpr const char* kKueueJobUidLabel = "kueue.x-k8s.io/job-uid";
inline constexpr const char* kKueuePodSetLabel = "kueue.x-k8s.io/podset";
// What the Workload was built from (its podSets are immutable): a job whose spec changed gets
// a new Workload at its next attempt boundary.
inline constexpr const char* kWorkloadSpecHashAnnotation = "ringleader.dev/workload-spec-hash";
// The job's one pod set.
inline constexpr const char* kWorkersPodSet = "workers";

// Reasons on the job's Admitted condition (docs/api.md).
inline constexpr const char* kReasonQueued = "Queued";
inline constexpr const char* kReasonKueueAdmitted = "KueueAdmitted";
inline constexpr const char* kReasonEvicted = "Evicted";
inline constexpr const char* kReasonKueueCrdMissing = "KueueCRDMissing";

// The LocalQueue named by the job's kueue.x-k8s.io/queue-name label ("" without one).
std::string KueueQueueName(const api::TrainingJob& job);
inline bool IsKueueManaged(const api::TrainingJob& job) { return !KueueQueueName(job).empty(); }

// `trainingjob-<name>-<5 hex of the uid>` (Kueue's GetWorkloadNameForOwnerWithGVK scheme: the
// uid part keeps a recreated job of the same name from meeting its predecessor's Workload).
std::string WorkloadName(const api::TrainingJob& job);
// The PriorityClass the workers get (template's priorityClassName, else gang.priorityClassName).
std::string WorkerPriorityClassName(const api::TrainingJob& job);
// Hash of what the Workload's spec is built from (pod set, queue, priority class).
std::string WorkloadSpecHash(const api::TrainingJob& job);
// The Workload for the job. `priority`: the value of WorkerPriorityClassName's PriorityClass
// (Kueue requires it with priorityClassRef); nullopt when the Pods name no priority class.
nlohmann::json BuildWorkload(const api::TrainingJob& job, std::optional<int32_t> priority);

struct WorkloadCondition {
  std::string status;  // True, False, Unknown
  std::string reason;
  std::string message;
};

struct PodSetAssignment {
  std::string name;
  std::map<std::string, std::string> flavors;  // resource → ResourceFlavor
  std::optional<int32_t> count;
};

// What the operator reads of a Workload.
struct WorkloadView {
  std::string name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  bool deleting = false;
  std::string spec_hash;                                // kWorkloadSpecHashAnnotation
  std::map<std::string, WorkloadCondition> conditions;  // by type
  std::string cluster_queue;                            // status.admission.clusterQueue
  std::vector<PodSetAssignment> assignments;
  nlohmann::json status = nlohmann::json::object();  // as cached, for a status update

  bool Is(const std::string& type) const {
    auto it = conditions.find(type);
    return it != conditions.end() && it->second.status == "True";
  }
  const WorkloadCondition* Find(const std::string& type) const {
    auto it = conditions.find(type);
    return it == conditions.end() ? nullptr : &it->second;
  }
  bool QuotaReserved() const { return Is("QuotaReserved"); }
  bool Admitted() const { return Is("Admitted"); }
  bool Evicted() const { return Is("Evicted"); }
  bool Finished() const { return Is("Finished"); }
  // "resource=flavor, ..." of the assignment, for messages.
  std::string FlavorsText() const;
};

WorkloadView ReadWorkload(const nlohmann::json& workload);

// What Kueue's admission adds to each Pod of a pod set.
struct PodPlacement {
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// The placement of the `workers` pod set: the assigned flavors' nodeLabels (first flavor wins
// a key) and tolerations, and the podSetUpdates of the Workload's admission checks (a key set
// twice to different values is an error). `flavors`: the ResourceFlavor objects by name; one
// the assignment names but `flavors` lacks is an error.
StatusOr<PodPlacement> PlacementFor(const WorkloadView& workload, const std::map<std::string, nlohmann::json>& flavors);
// Merges the placement into a Pod as Kueue's podset.Merge does: the Pod's own entries stay, a
// key the Pod sets to another value is an error, tolerations are added once.
Status ApplyPlacement(const PodPlacement& placement, nlohmann::json& pod);

// What the reconciler observed for a Kueue-managed job.
struct KueueInput {
  std::string queue;  // the LocalQueue (KueueQueueName)
  // Not empty: Kueue's Workload API cannot be used (not served, forbidden, not synced yet):
  // why, and the condition reason to show (kReasonKueueCrdMissing, ...).
  std::string unavailable;
  std::string unavailable_reason = kReasonKueueCrdMissing;
  std::chrono::milliseconds unavailable_retry{std::chrono::seconds(60)};
  std::optional<WorkloadView> workload;  // the job's Workload, if it exists
  std::string expected_spec_hash;        // WorkloadSpecHash(job)
  std::string cluster_queue;             // the LocalQueue's spec.clusterQueue ("" unknown)
  std::string queue_problem;             // e.g. "LocalQueue x does not exist in namespace y"
};

struct KueuePlan {
  StatePlan state;
  bool create_workload = false;
  bool delete_workload = false;
  // The Workload's new status, written with an update of /status when set.
  std::optional<nlohmann::json> workload_status;
};

// The decision for a Kueue-managed job: DecideNextState where Kueue has nothing to say, the
// queueing, admission and eviction rules above otherwise.
KueuePlan DecideWithKueue(const StateInput& input, const KueueInput& kueue, const StateOptions& options = {});

// Sets a condition of a Workload's status the way apimeta.SetStatusCondition does
// (lastTransitionTime changes only with status). Returns whether anything changed.
bool SetWorkloadCondition(nlohmann::json& status, const std::string& type, const std::string& value,
                          const std::string& reason, const std::string& message, const std::string& now,
                          int64_t generation);

}  // namespace ringleader::controller
