#pragma once
// The structural OpenAPI v3 subset a CustomResourceDefinition's schema is checked, pruned,
// defaulted and validated with, following k8s.io/apiextensions-apiserver:
//   type, properties, required, enum, minimum/maximum (+exclusive), minLength/maxLength,
//   minItems/maxItems, pattern (ECMAScript regex), items, additionalProperties,
//   nullable, default, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string.
// Not supported: x-kubernetes-validations (CEL), format checks, oneOf/anyOf/allOf/not.
//
// Order on write, as in the real server: prune unknown fields, apply defaults, validate.
// Thread-safety: pure functions.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ringleader::testapi {

// One entry of a 422 Status's details.causes[].
struct FieldCause {
  std::string reason;   // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
  std::string message;  // "Required value", "Invalid value: 0: spec.size in body should be ..."
  std::string field;    // "spec.size", "spec.workers[0].name"
};

// Structural-schema check of a CRD's openAPIV3Schema. `path` names the schema in causes,
// e.g. "spec.validation.openAPIV3Schema" (what a real server reports for v1 CRDs too).
std::vector<FieldCause> CheckStructuralSchema(const nlohmann::json& schema, const std::string& path);

// Removes fields the schema does not declare and returns their paths ("spec.foo",
// "spec.items[0].bar"), which fieldValidation=Strict turns into an error. With `is_root`,
// apiVersion/kind/metadata are kept (they are implicit in every custom resource).
std::vector<std::string> PruneUnknownFields(nlohmann::json& value, const nlohmann::json& schema, bool is_root = true);

// Fills `default:` values of missing properties, recursively.
void ApplyDefaults(nlohmann::json& value, const nlohmann::json& schema);

// Validates `value` against `schema`; `path` is the field path of `value` ("" for the root).
std::vector<FieldCause> ValidateAgainstSchema(const nlohmann::json& value, const nlohmann::json& schema,
                                              const std::string& path = "");

}  // namespace ringleader::testapi
