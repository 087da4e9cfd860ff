// The CRD's bounds on a TrainingJob's .status (declared in ringleader/api/validation.h).

#include <algorithm>
#include <set>

#include "ringleader/api/limits.h"
#include "ringleader/api/validation.h"
#include "ringleader/common/rfc3339.h"
#include "validation_wording.h"

namespace ringleader::api {

std::vector<FieldError> ValidateStatus(const TrainingJobStatus& status) {
  std::vector<FieldError> errors;
  auto max_length = [&](const std::string& field, const std::string& value, size_t max) {
    if (value.size() > max) errors.push_back({field, TooLong(max, value.size())});
  };
  auto non_negative = [&](const std::string& field, int64_t value) {
    if (value < 0) errors.push_back({field, "must not be negative, got " + std::to_string(value)});
  };
  auto timestamp = [&](const std::string& field, const std::string& value) {
    if (!value.empty() && !ParseRfc3339(value)) {
      errors.push_back({field, "must be an RFC 3339 date-time, got \"" + value + "\""});
    }
  };
  max_length("status.ready", status.ready, limits::kMaxReadyLength);
  max_length("status.message", status.message, limits::kMaxStatusMessageLength);
  non_negative("status.workers.pending", status.workers.pending);
  non_negative("status.workers.running", status.workers.running);
  non_negative("status.workers.ready", status.workers.ready);
  non_negative("status.workers.succeeded", status.workers.succeeded);
  non_negative("status.workers.failed", status.workers.failed);
  non_negative("status.restarts", status.restarts);
  non_negative("status.attempt", status.attempt);
  non_negative("status.inPlaceRestarts", status.in_place_restarts);  // issue 14
  timestamp("status.startTime", status.start_time);
  timestamp("status.completionTime", status.completion_time);
  if (status.conditions.size() > limits::kMaxConditions) {
    errors.push_back(
        {"status.conditions", "must have at most " + std::to_string(limits::kMaxConditions) +
                                  " items, got " + std::to_string(status.conditions.size())});
  }
  const auto& types = ConditionTypeNames();
  std::set<std::string> seen;
  for (size_t i = 0; i < status.conditions.size(); ++i) {
    const Condition& c = status.conditions[i];
    const std::string path = "status.conditions[" + std::to_string(i) + "]";
    if (std::find(types.begin(), types.end(), c.type) == types.end()) {
      errors.push_back(
          {path + ".type", "unsupported value \"" + c.type + "\": must be one of " + OneOf(types)});
    } else if (!seen.insert(c.type).second) {
      // The list is a map keyed by type (x-kubernetes-list-type: map).
      errors.push_back({path + ".type", "duplicate condition type \"" + c.type + "\""});
    }
    const auto& statuses = ConditionStatusNames();
    if (std::find(statuses.begin(), statuses.end(), c.status) == statuses.end()) {
      errors.push_back({path + ".status", "unsupported value \"" + c.status +
                                              "\": must be one of " + OneOf(statuses)});
    }
    max_length(path + ".reason", c.reason, limits::kMaxConditionReasonLength);
    max_length(path + ".message", c.message, limits::kMaxConditionMessageLength);
    timestamp(path + ".lastTransitionTime", c.last_transition_time);
    non_negative(path + ".observedGeneration", c.observed_generation);
  }
  if (status.progress) {
    non_negative("status.progress.step", status.progress->step);
    timestamp("status.progress.updatedAt", status.progress->updated_at);
    // issue 14: in-place restarts
    non_negative("status.progress.attempt", status.progress->attempt);
    non_negative("status.progress.inPlaceRestarts", status.progress->in_place_restarts);
  }
  return errors;
}

}  // namespace ringleader::api
