#include "ringleader/testing/schema.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ringleader::testapi {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "spec": {
      "type": "object",
      "required": ["workers"],
      "properties": {
        "workers": {"type": "integer", "minimum": 1, "maximum": 512},
        "restartPolicy": {"type": "string", "enum": ["Never", "OnFailure"], "default": "OnFailure"},
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
        "port": {"x-kubernetes-int-or-string": true},
        "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "gang": {"type": "object", "default": {}, "properties": {
          "timeoutSeconds": {"type": "integer", "default": 300},
          "scheduler": {"type": "string", "nullable": true}}},
        "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "workerSpecs": {"type": "array", "items": {"type": "object", "required": ["name"],
          "properties": {"name": {"type": "string"}}}}
      }
    },
    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
  }
})");

struct ValidateCase {
  std::string name;
  json spec;
  std::vector<std::pair<std::string, std::string>> causes;  // (field, reason)
};

TEST(SchemaTest, Validate) {
  const std::vector<ValidateCase> cases = {
      {"valid", {{"workers", 4}}, {}},
      {"required", json::object(), {{"spec.workers", "FieldValueRequired"}}},
      {"minimum", {{"workers", 0}}, {{"spec.workers", "FieldValueInvalid"}}},
      {"maximum", {{"workers", 513}}, {{"spec.workers", "FieldValueInvalid"}}},
      {"type", {{"workers", "four"}}, {{"spec.workers", "FieldValueTypeInvalid"}}},
      {"enum", {{"workers", 1}, {"restartPolicy", "Always"}}, {{"spec.restartPolicy", "FieldValueNotSupported"}}},
      {"minLength", {{"workers", 1}, {"name", ""}}, {{"spec.name", "FieldValueInvalid"}, {"spec.name", "FieldValueInvalid"}}},
      {"maxLength", {{"workers", 1}, {"name", "abcdef"}}, {{"spec.name", "FieldValueTooLong"}}},
      {"pattern", {{"workers", 1}, {"name", "ab1"}}, {{"spec.name", "FieldValueInvalid"}}},
      {"int-or-string int", {{"workers", 1}, {"port", 80}}, {}},
      {"int-or-string string", {{"workers", 1}, {"port", "http"}}, {}},
      {"int-or-string bool", {{"workers", 1}, {"port", true}}, {{"spec.port", "FieldValueTypeInvalid"}}},
      {"exclusiveMinimum", {{"workers", 1}, {"ratio", 0}}, {{"spec.ratio", "FieldValueInvalid"}}},
      {"number ok", {{"workers", 1}, {"ratio", 0.5}}, {}},
      {"minItems", {{"workers", 1}, {"tags", json::array()}}, {{"spec.tags", "FieldValueInvalid"}}},
      {"maxItems", {{"workers", 1}, {"tags", {"a", "b", "c"}}}, {{"spec.tags", "FieldValueTooMany"}}},
      {"items type", {{"workers", 1}, {"tags", {"a", 2}}}, {{"spec.tags[1]", "FieldValueTypeInvalid"}}},
      {"additionalProperties", {{"workers", 1}, {"labels", {{"a", "x"}, {"b", 1}}}}, {{"spec.labels.b", "FieldValueTypeInvalid"}}},
      {"nullable", {{"workers", 1}, {"gang", {{"scheduler", nullptr}}}}, {}},
      {"nested required", {{"workers", 1}, {"workerSpecs", {json::object()}}}, {{"spec.workerSpecs[0].name", "FieldValueRequired"}}},
      {"several", {{"workers", 0}, {"restartPolicy", "x"}}, {{"spec.workers", "FieldValueInvalid"}, {"spec.restartPolicy", "FieldValueNotSupported"}}},
  };
  for (const auto& c : cases) {
    json obj = {{"apiVersion", "ringleader.dev/v1alpha1"}, {"kind", "TrainingJob"}, {"metadata", {{"name", "x"}}},
                {"spec", c.spec}};
    auto causes = ValidateAgainstSchema(obj, kSchema);
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& cause : causes) got.emplace_back(cause.field, cause.reason);
    std::sort(got.begin(), got.end());
    auto want = c.causes;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << c.name;
  }
}

TEST(SchemaTest, MessagesLikeTheRealServer) {
  json obj = {{"spec", {{"workers", 0}}}};
  auto causes = ValidateAgainstSchema(obj, kSchema);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message, "Invalid value: 0: spec.workers in body should be greater than or equal to 1");
  obj = {{"spec", json::object()}};
  causes = ValidateAgainstSchema(obj, kSchema);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message, "Required value");
}

TEST(SchemaTest, PrunesUnknownFields) {
  json obj = {{"apiVersion", "v"}, {"kind", "K"}, {"metadata", {{"name", "x"}, {"labels", {{"a", "b"}}}}},
              {"spec", {{"workers", 1}, {"unknown", 1}, {"template", {{"anything", {{"goes", 1}}}}},
                        {"labels", {{"free", "form"}}}, {"workerSpecs", {{{"name", "a"}, {"junk", true}}}},
                        {"gang", {{"scheduler", nullptr}, {"timeoutSeconds", nullptr}}}}},
              {"topLevelJunk", 1}};
  std::vector<std::string> pruned = PruneUnknownFields(obj, kSchema);
  std::sort(pruned.begin(), pruned.end());
  EXPECT_EQ(pruned, (std::vector<std::string>{"spec.unknown", "spec.workerSpecs[0].junk", "topLevelJunk"}));
  EXPECT_FALSE(obj.contains("topLevelJunk"));
  EXPECT_TRUE(obj.contains("apiVersion"));
  EXPECT_EQ(obj["metadata"]["labels"]["a"], "b");
  EXPECT_FALSE(obj["spec"].contains("unknown"));
  EXPECT_EQ(obj["spec"]["template"]["anything"]["goes"], 1);  // preserve-unknown-fields
  EXPECT_EQ(obj["spec"]["labels"]["free"], "form");          // additionalProperties
  EXPECT_FALSE(obj["spec"]["workerSpecs"][0].contains("junk"));
  EXPECT_TRUE(obj["spec"]["gang"]["scheduler"].is_null());        // nullable kept
  EXPECT_FALSE(obj["spec"]["gang"].contains("timeoutSeconds"));   // non-nullable null dropped
}

TEST(SchemaTest, AppliesDefaults) {
  json obj = {{"spec", {{"workers", 2}}}};
  ApplyDefaults(obj, kSchema);
  EXPECT_EQ(obj["spec"]["restartPolicy"], "OnFailure");
  EXPECT_EQ(obj["spec"]["gang"]["timeoutSeconds"], 300);  // default {} then its own defaults
  obj = {{"spec", {{"workers", 2}, {"restartPolicy", "Never"}, {"gang", {{"timeoutSeconds", 5}}}}}};
  ApplyDefaults(obj, kSchema);
  EXPECT_EQ(obj["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(obj["spec"]["gang"]["timeoutSeconds"], 5);
}

TEST(SchemaTest, StructuralCheck) {
  json ok = kSchema;
  EXPECT_TRUE(CheckStructuralSchema(ok, "spec.validation.openAPIV3Schema").empty());
  json bad = {{"type", "object"},
              {"properties", {{"spec", {{"properties", {{"size", {{"type", "integer"}}}}}}},
                              {"list", {{"type", "array"}, {"items", json::object()}}}}}};
  auto causes = CheckStructuralSchema(bad, "spec.validation.openAPIV3Schema");
  std::vector<std::string> fields;
  for (const auto& c : causes) fields.push_back(c.field);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"spec.validation.openAPIV3Schema.properties[list].items.type",
                                              "spec.validation.openAPIV3Schema.properties[spec].type"}));
  EXPECT_EQ(causes[0].reason, "FieldValueRequired");
}

}  // namespace
}  // namespace ringleader::testapi
