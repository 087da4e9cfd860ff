// The CRD and the C++ validation must agree: same bounds, same enums, same required fields.
// Also proves the schema is structural (every node typed, no forbidden constructs), which the
// API server demands of apiextensions.k8s.io/v1 CRDs.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "ringleader/api/limits.h"
#include "ringleader/api/trainingjob.h"
#include "ringleader/api/validation.h"
#include "ringleader/api/yaml_loader.h"

namespace ringleader::api {
namespace {

using nlohmann::json;

json LoadCrd() {
  auto docs =
      LoadYamlFile(std::string(RINGLEADER_SOURCE_DIR) + "/crds/ringleader.dev_trainingjobs.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ(docs->size(), 1u);
  return (*docs)[0];
}

const json& Version(const json& crd) { return crd["spec"]["versions"][0]; }
const json& Schema(const json& crd) { return Version(crd)["schema"]["openAPIV3Schema"]; }
const json& Spec(const json& crd) { return Schema(crd)["properties"]["spec"]["properties"]; }

// Structural schema rules (apiextensions.k8s.io/v1), checked on every schema node (those
// reached through properties, items and additionalProperties; values such as `default` are
// data, not schema): a non-empty type unless the node preserves unknown fields or is
// int-or-string; no additionalProperties beside properties; none of the constructs this CRD
// does not use and the API server forbids or restricts ($ref, anyOf, ...); and only keywords
// of JSONSchemaProps, so a typo such as `maxlength` cannot silently drop a bound.
//
// `described`: the node is a property of spec or status or of anything below them, which `kubectl
// explain` shows, so it needs a description. That includes the pod-template fields the schema lists
// (labels, containers[].image, ...); the Pod fields it does not list are preserved without a schema
// node, so there is nothing to describe there (kubectl explain shows the template's own
// description, which points at core/v1). List items and map values are described by the
// list or map that holds them.
void CheckStructural(const json& node, const std::string& path, bool in_spec_or_status,
                     bool described, std::vector<std::string>* problems) {
  if (!node.is_object()) {
    problems->push_back(path + ": not an object");
    return;
  }
  static const std::set<std::string> kKeywords = {"type",
                                                  "format",
                                                  "description",
                                                  "properties",
                                                  "items",
                                                  "additionalProperties",
                                                  "required",
                                                  "enum",
                                                  "default",
                                                  "minimum",
                                                  "maximum",
                                                  "minLength",
                                                  "maxLength",
                                                  "minItems",
                                                  "maxItems",
                                                  "pattern",
                                                  "nullable",
                                                  "x-kubernetes-preserve-unknown-fields",
                                                  "x-kubernetes-int-or-string",
                                                  "x-kubernetes-list-type",
                                                  "x-kubernetes-list-map-keys",
                                                  "x-kubernetes-map-type",
                                                  "x-kubernetes-embedded-resource"};
  static const std::set<std::string> kForbidden = {"$ref",
                                                   "$schema",
                                                   "id",
                                                   "definitions",
                                                   "dependencies",
                                                   "patternProperties",
                                                   "additionalItems",
                                                   "anyOf",
                                                   "oneOf",
                                                   "allOf",
                                                   "not"};
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (kForbidden.count(it.key())) {
      problems->push_back(path + ": " + it.key() + " is not used in this CRD");
    } else if (!kKeywords.count(it.key())) {
      problems->push_back(path + ": unknown keyword " + it.key());
    }
  }
  bool typed =
      node.contains("type") && node["type"].is_string() && !node["type"].get<std::string>().empty();
  bool exempt =
      node.value("x-kubernetes-int-or-string", false) ||
      (node.value("x-kubernetes-preserve-unknown-fields", false) && !node.contains("properties"));
  if (!typed && !exempt) problems->push_back(path + ".type: required");
  if (node.contains("properties") && node.contains("additionalProperties")) {
    problems->push_back(path + ": properties and additionalProperties are mutually exclusive");
  }
  if (node.value("uniqueItems", false)) problems->push_back(path + ": uniqueItems: true");
  if (described && node.value("description", "").empty()) {
    problems->push_back(path + ".description: required for kubectl explain");
  }
  if (node.contains("properties")) {
    for (auto it = node["properties"].begin(); it != node["properties"].end(); ++it) {
      std::string child = path + ".properties." + it.key();
      bool api = in_spec_or_status || child == "openAPIV3Schema.properties.spec" ||
                 child == "openAPIV3Schema.properties.status";
      CheckStructural(it.value(), child, api, /*described=*/api, problems);
    }
  }
  if (node.contains("items")) {
    CheckStructural(node["items"], path + ".items", in_spec_or_status, false, problems);
  }
  if (node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
    CheckStructural(node["additionalProperties"], path + ".additionalProperties", in_spec_or_status,
                    false, problems);
  }
}

TEST(CrdTest, NamesAndSubresources) {
  json crd = LoadCrd();
  EXPECT_EQ(crd["apiVersion"], "apiextensions.k8s.io/v1");
  EXPECT_EQ(crd["metadata"]["name"], "trainingjobs.ringleader.dev");
  EXPECT_EQ(crd["spec"]["group"], kGroup);
  EXPECT_EQ(crd["spec"]["scope"], "Namespaced");
  EXPECT_EQ(crd["spec"]["names"]["plural"], "trainingjobs");
  EXPECT_EQ(crd["spec"]["names"]["singular"], "trainingjob");
  EXPECT_EQ(crd["spec"]["names"]["kind"], kKind);
  EXPECT_EQ(crd["spec"]["names"]["shortNames"], json::array({"tj"}));
  EXPECT_EQ(crd["spec"]["names"]["categories"], json::array({"ringleader"}));
  EXPECT_EQ(Version(crd)["name"], kVersion);
  EXPECT_TRUE(Version(crd)["subresources"].contains("status"));
}

TEST(CrdTest, SchemaIsStructural) {
  std::vector<std::string> problems;
  json crd = LoadCrd();
  const json& schema = Schema(crd);
  CheckStructural(schema, "openAPIV3Schema", /*in_spec_or_status=*/false, /*described=*/false,
                  &problems);
  for (const auto& p : problems) ADD_FAILURE() << p;
  // The API server owns metadata: the schema may only say it is an object.
  EXPECT_EQ(schema["properties"]["metadata"], json({{"type", "object"}}));
}

TEST(CrdTest, PrinterColumns) {
  json columns = Version(LoadCrd())["additionalPrinterColumns"];
  std::vector<std::pair<std::string, int>> got;
  for (const auto& c : columns)
    got.emplace_back(c["name"].get<std::string>(), c.value("priority", 0));
  std::vector<std::pair<std::string, int>> want = {{"Phase", 0},  {"Ready", 0},   {"Restarts", 0},
                                                   {"Age", 0},    {"Workers", 1}, {"Gang", 1},
                                                   {"Step", 1},   {"Loss", 1},    {"Message", 1}};
  EXPECT_EQ(got, want);
}

// Every bound keyword in the schema, keyed "path keyword": properties by name, list items as
// "[]", map values as "*" (e.g. "spec.template.spec.containers[].image maxLength").
void CollectBounds(const json& node, const std::string& path, std::map<std::string, json>* out) {
  for (const char* keyword :
       {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"}) {
    if (node.contains(keyword)) (*out)[path + " " + keyword] = node[keyword];
  }
  if (node.contains("properties")) {
    for (auto it = node["properties"].begin(); it != node["properties"].end(); ++it) {
      CollectBounds(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
    }
  }
  if (node.contains("items")) CollectBounds(node["items"], path + "[]", out);
  if (node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
    CollectBounds(node["additionalProperties"], path + ".*", out);
  }
}

// The CRD's bounds, all of them, against the C++ constants the validation uses. A bound added
// to the CRD (or to limits.h) without the other side fails here.
TEST(CrdTest, BoundsMatchValidation) {
  std::map<std::string, json> got;
  CollectBounds(Schema(LoadCrd()), "", &got);
  // "required" rules in C++ refuse empty strings: the CRD's minLength 1. The status counters
  // are "must not be negative" in ValidateStatus: the CRD's minimum 0.
  const std::map<std::string, json> want = {
      {"spec.workers minimum", limits::kMinWorkers},
      {"spec.workers maximum", limits::kMaxWorkers},
      {"spec.processesPerWorker minimum", limits::kMinProcessesPerWorker},
      {"spec.processesPerWorker maximum", limits::kMaxProcessesPerWorker},
      {"spec.port minimum", limits::kMinPort},
      {"spec.port maximum", limits::kMaxPort},
      {"spec.template.metadata.labels.* maxLength", limits::kMaxLabelValueLength},
      {"spec.template.spec.containers minItems", 1},
      {"spec.template.spec.containers maxItems", limits::kMaxContainers},
      {"spec.template.spec.containers[].name minLength", 1},
      {"spec.template.spec.containers[].name maxLength", limits::kMaxDnsLabelLength},
      {"spec.template.spec.containers[].image minLength", 1},
      {"spec.template.spec.containers[].image maxLength", limits::kMaxImageLength},
      {"spec.template.spec.containers[].env maxItems", limits::kMaxEnvPerContainer},
      {"spec.template.spec.containers[].env[].name minLength", 1},
      {"spec.template.spec.containers[].env[].name maxLength", limits::kMaxEnvNameLength},
      {"spec.gang.timeoutSeconds minimum", limits::kMinGangTimeoutSeconds},
      {"spec.gang.timeoutSeconds maximum", limits::kMaxGangTimeoutSeconds},
      {"spec.gang.queue maxLength", limits::kMaxQueueNameLength},
      {"spec.gang.priorityClassName maxLength", limits::kMaxPriorityClassNameLength},
      {"spec.gang.schedulerName maxLength", limits::kMaxSchedulerNameLength},
      {"spec.runPolicy.backoffLimit minimum", limits::kMinBackoffLimit},
      {"spec.runPolicy.backoffLimit maximum", limits::kMaxBackoffLimit},
      {"spec.runPolicy.activeDeadlineSeconds minimum", limits::kMinActiveDeadlineSeconds},
      {"spec.runPolicy.ttlSecondsAfterFinished minimum", limits::kMinTtlSecondsAfterFinished},
      {"spec.runPolicy.inPlaceRestarts minimum", limits::kMinInPlaceRestarts},
      {"spec.runPolicy.inPlaceRestarts maximum", limits::kMaxInPlaceRestarts},
      {"spec.checkpointDir maxLength", static_cast<int64_t>(limits::kMaxCheckpointDirLength)},
      {"spec.runPolicy.progressDeadlineSeconds minimum", limits::kMinProgressDeadlineSeconds},
      {"status.ready maxLength", limits::kMaxReadyLength},
      {"status.message maxLength", limits::kMaxStatusMessageLength},
      {"status.workers.pending minimum", 0},
      {"status.workers.running minimum", 0},
      {"status.workers.ready minimum", 0},
      {"status.workers.succeeded minimum", 0},
      {"status.workers.failed minimum", 0},
      {"status.restarts minimum", 0},
      {"status.attempt minimum", 0},
      {"status.inPlaceRestarts minimum", 0},
      {"status.conditions maxItems", limits::kMaxConditions},
      {"status.conditions[].reason maxLength", limits::kMaxConditionReasonLength},
      {"status.conditions[].message maxLength", limits::kMaxConditionMessageLength},
      {"status.conditions[].observedGeneration minimum", 0},
      {"status.progress.step minimum", 0},
      {"status.progress.attempt minimum", 0},
      {"status.progress.inPlaceRestarts minimum", 0},
  };
  for (const auto& [key, value] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << key << ": in C++, not in the CRD";
    } else {
      EXPECT_EQ(it->second, value) << key;
    }
  }
  for (const auto& [key, value] : got) {
    if (!want.count(key)) ADD_FAILURE() << key << " " << value << ": in the CRD, not compared";
  }
  // C++ reads these as integers (a fraction is a type error), so the CRD must not allow one.
  json spec = Spec(LoadCrd());
  json run = spec["runPolicy"]["properties"];
  for (const json* node : {&spec["workers"], &spec["processesPerWorker"], &spec["port"],
                           &spec["gang"]["properties"]["timeoutSeconds"], &run["backoffLimit"],
                           &run["activeDeadlineSeconds"], &run["ttlSecondsAfterFinished"],
                           &run["progressDeadlineSeconds"]}) {
    EXPECT_EQ((*node)["type"], "integer") << node->dump();
  }
  // An optional bound is a minimum only: nothing caps deadlines and TTLs.
  EXPECT_FALSE(run["activeDeadlineSeconds"].contains("maximum"));
  EXPECT_FALSE(run["ttlSecondsAfterFinished"].contains("maximum"));
}

// What C++ rejects as "must be an object/a string" in the template is typed the same way.
TEST(CrdTest, TemplateTypesMatchValidation) {
  json tmpl = Spec(LoadCrd())["template"]["properties"];
  json meta = tmpl["metadata"];
  EXPECT_EQ(meta["type"], "object");
  for (const char* map : {"labels", "annotations"}) {
    EXPECT_EQ(meta["properties"][map]["type"], "object") << map;
    EXPECT_EQ(meta["properties"][map]["additionalProperties"]["type"], "string") << map;
  }
  json container = tmpl["spec"]["properties"]["containers"]["items"];
  EXPECT_EQ(tmpl["spec"]["type"], "object");
  EXPECT_EQ(container["type"], "object");
  EXPECT_EQ(container["required"], json::array({"name", "image"}));
  EXPECT_EQ(container["properties"]["name"]["type"], "string");
  EXPECT_EQ(container["properties"]["image"]["type"], "string");
  EXPECT_EQ(container["properties"]["env"]["type"], "array");
  EXPECT_EQ(container["properties"]["env"]["items"]["type"], "object");
  EXPECT_EQ(container["properties"]["env"]["items"]["required"], json::array({"name"}));
  EXPECT_EQ(container["properties"]["env"]["items"]["properties"]["name"]["type"], "string");
}

TEST(CrdTest, DefaultsMatchCpp) {
  json spec = Spec(LoadCrd());
  TrainingJobSpec defaults;
  EXPECT_EQ(spec["processesPerWorker"]["default"], defaults.processes_per_worker);
  EXPECT_EQ(spec["port"]["default"], defaults.port);
  EXPECT_EQ(spec["gang"]["properties"]["scheduler"]["default"], ToString(defaults.gang.scheduler));
  EXPECT_EQ(spec["gang"]["properties"]["timeoutSeconds"]["default"], defaults.gang.timeout_seconds);
  json run = spec["runPolicy"]["properties"];
  EXPECT_EQ(run["backoffLimit"]["default"], defaults.run_policy.backoff_limit);
  EXPECT_EQ(run["restartPolicy"]["default"], ToString(defaults.run_policy.restart_policy));
  EXPECT_EQ(run["cleanPodPolicy"]["default"], ToString(defaults.run_policy.clean_pod_policy));
  EXPECT_EQ(run["successPolicy"]["default"], ToString(defaults.run_policy.success_policy));
  EXPECT_EQ(run["suspend"]["default"], defaults.run_policy.suspend);
  EXPECT_EQ(Schema(LoadCrd())["properties"]["spec"]["required"],
            json::array({"workers", "template"}));
}

TEST(CrdTest, EnumsMatchCpp) {
  json crd = LoadCrd();
  json spec = Spec(crd);
  json status = Schema(crd)["properties"]["status"]["properties"];
  auto names = [](const json& node) { return node["enum"].get<std::vector<std::string>>(); };
  EXPECT_EQ(names(spec["gang"]["properties"]["scheduler"]), GangSchedulerNames());
  EXPECT_EQ(names(spec["runPolicy"]["properties"]["restartPolicy"]), RestartPolicyNames());
  EXPECT_EQ(names(spec["runPolicy"]["properties"]["cleanPodPolicy"]), CleanPodPolicyNames());
  EXPECT_EQ(names(spec["runPolicy"]["properties"]["successPolicy"]), SuccessPolicyNames());
  EXPECT_EQ(names(status["phase"]), JobPhaseNames());
  EXPECT_EQ(names(status["conditions"]["items"]["properties"]["type"]), ConditionTypeNames());
  EXPECT_EQ(names(status["conditions"]["items"]["properties"]["status"]), ConditionStatusNames());
}

TEST(CrdTest, ExamplesAreValid) {
  for (const char* name :
       {"cpu-job.yaml", "gpu-job.yaml", "volcano-job.yaml", "pytorch-torchrun.yaml"}) {
    auto docs = LoadYamlFile(std::string(RINGLEADER_SOURCE_DIR) + "/examples/" + name);
    ASSERT_TRUE(docs.ok()) << name << ": " << docs.status().ToString();
    for (const auto& doc : *docs) {
      auto job = ParseTrainingJob(doc);
      EXPECT_TRUE(job.ok()) << name << ": " << job.status().ToString();
    }
  }
}

}  // namespace
}  // namespace ringleader::api
