#pragma once
// The wording the TrainingJob validators share (validation.cc for the spec,
// status_validation.cc for the status), so a rule reads the same wherever it is checked.
// Internal to ringleader_api.

#include <string>
#include <vector>

namespace ringleader::api {

// "must be at most 4096 characters, got 5000": the wording of every length rule.
inline std::string TooLong(size_t max_length, size_t length) {
  return "must be at most " + std::to_string(max_length) + " characters, got " + std::to_string(length);
}

// "A, B, C", for the enum rules (worded as the decoder words them).
inline std::string OneOf(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

}  // namespace ringleader::api
