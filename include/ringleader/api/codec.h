#pragma once
// JSON <-> TrainingJob. Decoding never throws: wrong types, unknown spec fields and unknown
// enum values are collected as FieldErrors (all of them, not just the first), and defaults are
// applied to whatever is absent, so a decoded job is what the operator will act on.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/field_error.h"
#include "ringleader/api/trainingjob.h"

namespace ringleader::api {

// Decodes a whole TrainingJob object (apiVersion, kind, metadata, spec, status). Problems are
// appended to `errors`; the returned job holds defaults where a field was absent or invalid.
TrainingJob DecodeTrainingJob(const nlohmann::json& object, std::vector<FieldError>* errors);

// Status <-> JSON, as stored under `.status`.
nlohmann::json EncodeStatus(const TrainingJobStatus& status);
TrainingJobStatus DecodeStatus(const nlohmann::json& status, std::vector<FieldError>* errors);

// The spec with every default made explicit (what `kubectl get -o yaml` would show).
nlohmann::json EncodeSpec(const TrainingJobSpec& spec);

}  // namespace ringleader::api
