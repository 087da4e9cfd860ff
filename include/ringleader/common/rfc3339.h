#pragma once
// RFC 3339 timestamps as Kubernetes writes them: meta/v1 Time at second resolution
// ("2026-11-22T05:30:00Z") and meta/v1 MicroTime ("2026-11-22T05:30:00.123456Z", leases and
// events). The one formatter of the tree: api, kube, the controller and the test API server
// all use it.
//
// Thread-safety: pure functions.

#include <chrono>
#include <optional>
#include <string>

namespace ringleader {

enum class Rfc3339Precision { kSeconds, kMicroseconds };

// Always UTC with a "Z" suffix; kSeconds truncates the fraction.
std::string FormatRfc3339(std::chrono::system_clock::time_point t,
                          Rfc3339Precision precision = Rfc3339Precision::kSeconds);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace ringleader
