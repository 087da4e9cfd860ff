#pragma once
// The TrainingJob API (group ringleader.dev, version v1alpha1) as plain C++ values.
//
// These structs are what the controller, `ringleader validate/render` and local mode share.
// The pod template stays JSON so that pod fields this code does not know (newer Kubernetes
// fields) pass through untouched. Value types, no behaviour; safe to copy across threads.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ringleader::api {

inline constexpr const char* kGroup = "ringleader.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "ringleader.dev/v1alpha1";
inline constexpr const char* kKind = "TrainingJob";
inline constexpr const char* kPlural = "trainingjobs";

enum class GangScheduler { kBuiltin, kVolcano, kCoscheduling, kNone };
enum class RestartPolicy { kOnFailure, kNever, kExitCode };
enum class CleanPodPolicy { kRunning, kAll, kNone };
enum class SuccessPolicy { kAllWorkers, kRankZero };
enum class JobPhase {
  kPending,
  kScheduling,
  kRunning,
  kRestarting,
  kSucceeded,
  kFailed,
  kSuspended,
  kQueued  // waiting in a Kueue LocalQueue (kueue_workload.h)
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::string creation_timestamp;  // RFC 3339, as the API server writes it
  std::optional<std::string> deletion_timestamp;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct GangSpec {
  GangScheduler scheduler = GangScheduler::kBuiltin;
  int64_t timeout_seconds = 300;
  std::string queue;                // Volcano queue / Kueue-style queue name; optional
  std::string priority_class_name;  // optional
  std::string scheduler_name;       // optional override of the pods' schedulerName
};

struct RunPolicy {
  int64_t backoff_limit = 3;
  RestartPolicy restart_policy = RestartPolicy::kOnFailure;
  std::optional<int64_t> active_deadline_seconds;
  std::optional<int64_t> ttl_seconds_after_finished;
  CleanPodPolicy clean_pod_policy = CleanPodPolicy::kRunning;
  bool suspend = false;
  SuccessPolicy success_policy = SuccessPolicy::kAllWorkers;
  // Restarts `ringleader-worker launch` may do in place (without recreating Pods) within one
  // gang attempt before it exits and the operator restarts the gang the Pod-level way; 0 = off.
  int64_t in_place_restarts = 3;
  // --- issue 14: stalls ---
  // A Running gang whose status.progress.step has not advanced for this long is restarted
  // (reason Stalled). Unset: never.
  std::optional<int64_t> progress_deadline_seconds;
  // --- end issue 14 ---
};

struct TrainingJobSpec {
  int64_t workers = 0;  // required
  int64_t processes_per_worker = 1;
  int64_t port = 29500;
  // The PodTemplateSpec as JSON ({metadata, spec}); unknown fields are preserved.
  nlohmann::json pod_template = nlohmann::json::object();
  GangSpec gang;
  RunPolicy run_policy;
  // A directory inside the container (typically a mounted volume) where the worker runtime
  // keeps checkpoints; "" = none. Injected as RINGLEADER_CHECKPOINT_DIR.
  std::string checkpoint_dir;
};

struct Condition {
  std::string type;    // Admitted, GangScheduled, Running, Restarting, Succeeded, Failed, Suspended
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
  std::string last_transition_time;
  int64_t observed_generation = 0;
  bool operator==(const Condition&) const = default;
};

struct WorkerCounts {
  int32_t pending = 0;
  int32_t running = 0;
  int32_t ready = 0;
  int32_t succeeded = 0;
  int32_t failed = 0;
  bool operator==(const WorkerCounts&) const = default;
};

struct Progress {
  int64_t step = 0;
  double loss = 0;
  double samples_per_second = 0;
  std::string updated_at;
  // --- issue 14: in-place restarts ---
  // Written by rank 0 with the figures: the gang attempt it runs in (its RINGLEADER_ATTEMPT)
  // and how many times its launcher restarted the training processes in place during that
  // attempt (RINGLEADER_IN_PLACE_RESTARTS).
  int32_t attempt = 0;
  int32_t in_place_restarts = 0;
  // --- end issue 14 ---
  bool operator==(const Progress&) const = default;
};

struct TrainingJobStatus {
  std::optional<JobPhase> phase;
  std::string ready;    // "n/m" for display
  std::string message;  // one human line: why the job is in its phase (printer column MESSAGE)
  WorkerCounts workers;
  int32_t restarts = 0;
  // The gang attempt the current pods belong to (their ringleader.dev/attempt label). It
  // grows on every restart and on every resume after a suspend.
  int32_t attempt = 0;
  // --- issue 14: in-place restarts ---
  // The in-place restarts of the current attempt (status.progress.inPlaceRestarts) already
  // counted into `restarts`, which counts gang and in-place restarts alike.
  int32_t in_place_restarts = 0;
  // --- end issue 14 ---
  std::string start_time;
  std::string completion_time;
  int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::optional<Progress> progress;
  bool operator==(const TrainingJobStatus&) const = default;
};

struct TrainingJob {
  ObjectMeta metadata;
  TrainingJobSpec spec;
  TrainingJobStatus status;
};

const char* ToString(GangScheduler v);
const char* ToString(RestartPolicy v);
const char* ToString(CleanPodPolicy v);
const char* ToString(SuccessPolicy v);
const char* ToString(JobPhase v);

// The accepted enum spellings, in the order the CRD lists them. The CRD test compares these
// against crds/ringleader.dev_trainingjobs.yaml so the two cannot drift apart.
const std::vector<std::string>& GangSchedulerNames();
const std::vector<std::string>& RestartPolicyNames();
const std::vector<std::string>& CleanPodPolicyNames();
const std::vector<std::string>& SuccessPolicyNames();
const std::vector<std::string>& JobPhaseNames();
const std::vector<std::string>& ConditionTypeNames();
const std::vector<std::string>& ConditionStatusNames();  // True, False, Unknown

std::optional<GangScheduler> ParseGangScheduler(const std::string& s);
std::optional<RestartPolicy> ParseRestartPolicy(const std::string& s);
std::optional<CleanPodPolicy> ParseCleanPodPolicy(const std::string& s);
std::optional<SuccessPolicy> ParseSuccessPolicy(const std::string& s);
std::optional<JobPhase> ParseJobPhase(const std::string& s);

}  // namespace ringleader::api
