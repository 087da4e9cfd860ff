#pragma once
// A validation problem tied to a field path, e.g. `spec.workers: must be 1..4096, got 0`.

#include <string>
#include <vector>

namespace ringleader::api {

struct FieldError {
  std::string field;    // JSON path as Kubernetes writes it: spec.template.spec.containers[0].image
  std::string message;  // the rule and the offending value
  std::string ToString() const { return field + ": " + message; }
  bool operator==(const FieldError&) const = default;
};

// "spec.workers: ...; spec.port: ..." — every problem on one line, for status messages.
std::string JoinFieldErrors(const std::vector<FieldError>& errors, const std::string& separator = "; ");

}  // namespace ringleader::api
