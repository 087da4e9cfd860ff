#pragma once
// YAML documents -> JSON values, with YAML's plain-scalar typing (ints, floats, booleans,
// null) and quoted scalars kept as strings, so `port: "29500"` is caught as a wrong type.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::api {

// Every non-empty document of a (multi-document) YAML text. Rejects input over
// limits::kMaxInputBytes, YAML syntax errors (with line and column), and aliases that expand
// beyond limits::kMaxYamlExpandedSize or nest beyond limits::kMaxYamlDepth, so a small
// "billion laughs" file fails fast instead of exhausting memory. Pure; thread-safe.
StatusOr<std::vector<nlohmann::json>> LoadYamlDocuments(const std::string& text);
StatusOr<std::vector<nlohmann::json>> LoadYamlFile(const std::string& path);

// JSON -> YAML text (block style), quoting strings that would otherwise read back as
// another type. Documents are separated by `---`.
std::string ToYaml(const nlohmann::json& value);
std::string ToYamlDocuments(const std::vector<nlohmann::json>& documents);

}  // namespace ringleader::api
