#pragma once
// RFC 3339 timestamps as Kubernetes writes them ("2026-11-22T05:30:00Z", second resolution).

#include <chrono>
#include <optional>
#include <string>

namespace ringleader {

std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace ringleader
