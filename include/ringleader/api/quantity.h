#pragma once
// Kubernetes resource quantities ("500m", "2", "16Gi", "1e3") as integer milli-units, which is
// exact for every value the scheduler compares (cpu, memory, GPUs, extended resources).

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ringleader::api {

// Parses a quantity into milli-units: "500m" -> 500, "2" -> 2000, "1Ki" -> 1024000.
std::optional<int64_t> ParseQuantityMilli(const std::string& text);
// Formats milli-units the way Kubernetes would accept them back ("1500m", "2").
std::string FormatQuantityMilli(int64_t milli);

using ResourceList = std::map<std::string, int64_t>;  // resource name -> milli-units

// Effective requests of a pod spec as the scheduler sees them: per resource, the larger of
// the sum over containers and the largest init container; a limit stands in for a missing
// request (Kubernetes defaults requests to limits).
ResourceList PodRequests(const nlohmann::json& pod_spec);

}  // namespace ringleader::api
