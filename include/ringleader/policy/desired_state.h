#pragma once
// Desired children of a TrainingJob, as pure functions of the job (and the attempt number).
// `ringleader render` prints exactly these; the reconciler creates exactly these. No clock, no
// client, no globals: most controller tests live here.

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/trainingjob.h"

namespace ringleader::controller {

// The controller ownerReference every child carries (uid omitted when the job has none yet,
// as in `ringleader render` of a file).
nlohmann::json OwnerReference(const api::TrainingJob& job);

// Headless Service `<job>`: clusterIP None, publishNotReadyAddresses, port `rendezvous`.
nlohmann::json BuildService(const api::TrainingJob& job);

// Pod `<job>-worker-<rank>` for one attempt, with the injected env in every container.
nlohmann::json BuildWorkerPod(const api::TrainingJob& job, int64_t rank, int64_t attempt);
std::vector<nlohmann::json> BuildWorkerPods(const api::TrainingJob& job, int64_t attempt);

// The scheduler's PodGroup for Volcano and Coscheduling gangs; nullopt for Builtin and None.
std::optional<nlohmann::json> BuildPodGroup(const api::TrainingJob& job);

// What `ringleader render` prints: Service, PodGroup (if any), then the pods.
std::vector<nlohmann::json> BuildAllChildren(const api::TrainingJob& job, int64_t attempt);

// The schedulerName the pods get ("" = the cluster default).
std::string SchedulerNameFor(const api::TrainingJob& job);

}  // namespace ringleader::controller
