// The CRD and the C++ validation must agree: same bounds, same enums, same required fields.
// Also proves the schema is structural (every node typed, no forbidden constructs), which the
// API server demands of apiextensions.k8s.io/v1 CRDs.
#include <gtest/gtest.h>

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

// Structural schema rules (apiextensions.k8s.io/v1): every schema node has a non-empty type
// unless it preserves unknown fields or is int-or-string; no additionalProperties beside
// properties; metadata may only carry name/generateName restrictions.
void CheckStructural(const json& node, const std::string& path,
                     std::vector<std::string>* problems) {
  if (!node.is_object()) {
    problems->push_back(path + ": not an object");
    return;
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
  if (!node.contains("description") && path.find(".properties.spec") != std::string::npos &&
      node.value("type", "") == "object" && path.find(".template.") == std::string::npos) {
    problems->push_back(path + ".description: spec objects need one for kubectl explain");
  }
  for (const char* forbidden : {"anyOf", "oneOf", "allOf", "not", "$ref"}) {
    if (node.contains(forbidden) && path == "openAPIV3Schema")
      problems->push_back(path + ": " + forbidden);
  }
  if (node.contains("properties")) {
    for (auto it = node["properties"].begin(); it != node["properties"].end(); ++it) {
      CheckStructural(it.value(), path + ".properties." + it.key(), problems);
    }
  }
  if (node.contains("items")) CheckStructural(node["items"], path + ".items", problems);
  if (node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
    CheckStructural(node["additionalProperties"], path + ".additionalProperties", problems);
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
  CheckStructural(Schema(LoadCrd()), "openAPIV3Schema", &problems);
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(CrdTest, PrinterColumns) {
  json columns = Version(LoadCrd())["additionalPrinterColumns"];
  std::vector<std::pair<std::string, int>> got;
  for (const auto& c : columns)
    got.emplace_back(c["name"].get<std::string>(), c.value("priority", 0));
  std::vector<std::pair<std::string, int>> want = {{"Phase", 0},  {"Ready", 0},   {"Restarts", 0},
                                                   {"Age", 0},    {"Workers", 1}, {"Gang", 1},
                                                   {"Message", 1}};
  EXPECT_EQ(got, want);
}

TEST(CrdTest, BoundsMatchValidation) {
  json spec = Spec(LoadCrd());
  struct Bound {
    json node;
    int64_t min;
    std::optional<int64_t> max;
    const char* name;
  };
  const Bound bounds[] = {
      {spec["workers"], limits::kMinWorkers, limits::kMaxWorkers, "workers"},
      {spec["processesPerWorker"], limits::kMinProcessesPerWorker, limits::kMaxProcessesPerWorker,
       "processesPerWorker"},
      {spec["port"], limits::kMinPort, limits::kMaxPort, "port"},
      {spec["gang"]["properties"]["timeoutSeconds"], limits::kMinGangTimeoutSeconds,
       limits::kMaxGangTimeoutSeconds, "gang.timeoutSeconds"},
      {spec["runPolicy"]["properties"]["backoffLimit"], limits::kMinBackoffLimit,
       limits::kMaxBackoffLimit, "runPolicy.backoffLimit"},
      {spec["runPolicy"]["properties"]["activeDeadlineSeconds"], limits::kMinActiveDeadlineSeconds,
       std::nullopt, "runPolicy.activeDeadlineSeconds"},
      {spec["runPolicy"]["properties"]["ttlSecondsAfterFinished"],
       limits::kMinTtlSecondsAfterFinished, std::nullopt, "runPolicy.ttlSecondsAfterFinished"},
  };
  for (const Bound& b : bounds) {
    EXPECT_EQ(b.node["type"], "integer") << b.name;
    EXPECT_EQ(b.node["minimum"], b.min) << b.name;
    if (b.max) {
      EXPECT_EQ(b.node["maximum"], *b.max) << b.name;
    } else {
      EXPECT_FALSE(b.node.contains("maximum")) << b.name;
    }
  }
  json gang = spec["gang"]["properties"];
  EXPECT_EQ(gang["queue"]["maxLength"], limits::kMaxQueueNameLength);
  EXPECT_EQ(gang["priorityClassName"]["maxLength"], limits::kMaxPriorityClassNameLength);
  EXPECT_EQ(gang["schedulerName"]["maxLength"], limits::kMaxSchedulerNameLength);
  json containers = spec["template"]["properties"]["spec"]["properties"]["containers"];
  EXPECT_EQ(containers["minItems"], 1);
  EXPECT_EQ(containers["maxItems"], limits::kMaxContainers);
  EXPECT_EQ(containers["items"]["required"], json::array({"name", "image"}));
  EXPECT_EQ(containers["items"]["properties"]["name"]["maxLength"], limits::kMaxDnsLabelLength);
  EXPECT_EQ(containers["items"]["properties"]["env"]["maxItems"], limits::kMaxEnvPerContainer);
  EXPECT_EQ(Schema(LoadCrd())["properties"]["status"]["properties"]["conditions"]["maxItems"],
            limits::kMaxConditions);
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
