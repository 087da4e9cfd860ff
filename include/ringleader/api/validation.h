#pragma once
// The one validation function for TrainingJobs, used by the operator (for objects that reach
// it without our CRD schema, and for rules a schema cannot express) and by local mode.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ringleader/api/field_error.h"
#include "ringleader/api/trainingjob.h"
#include "ringleader/common/status.h"

namespace ringleader::api {

// Every problem with an already decoded job: bounds, names, template rules, injected env.
std::vector<FieldError> ValidateTrainingJob(const TrainingJob& job);

// Decode + validate. A spec larger than limits::kMaxInputBytes as JSON is refused with that
// one error (the cap a YAML file gets, applied to objects from the API server too). On failure the
// Status is kInvalidArgument and its message lists every problem ("spec.workers: must be 1..4096,
// got 0; spec.port: ...").
StatusOr<TrainingJob> ParseTrainingJob(const nlohmann::json& object);
// Same, collecting errors instead of joining them.
TrainingJob ParseTrainingJob(const nlohmann::json& object, std::vector<FieldError>* errors);

// The CRD's bounds on `.status` (lengths, counts, enums, timestamps, a map-keyed condition
// list). The operator writes status, so these are the operator's to keep: a status violating
// them is refused by the API server, and the job's status then never changes.
std::vector<FieldError> ValidateStatus(const TrainingJobStatus& status);

// Environment variable names the operator injects into every container; users may not set them.
const std::vector<std::string>& InjectedEnvNames();

}  // namespace ringleader::api
