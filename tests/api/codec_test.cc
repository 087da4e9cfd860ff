#include "ringleader/api/codec.h"

#include <gtest/gtest.h>

#include "ringleader/api/limits.h"
#include "ringleader/api/validation.h"
#include "ringleader/api/yaml_loader.h"

namespace ringleader::api {
namespace {

using nlohmann::json;

json MinimalJob() {
  return json::parse(R"({
    "apiVersion": "ringleader.dev/v1alpha1", "kind": "TrainingJob",
    "metadata": {"name": "demo", "namespace": "ml"},
    "spec": {"workers": 4, "template": {"spec": {"containers": [{"name": "t", "image": "img"}]}}}
  })");
}

TEST(CodecTest, DefaultsApplied) {
  std::vector<FieldError> errors;
  TrainingJob job = DecodeTrainingJob(MinimalJob(), &errors);
  ASSERT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(job.metadata.name, "demo");
  EXPECT_EQ(job.metadata.namespace_, "ml");
  EXPECT_EQ(job.spec.workers, 4);
  EXPECT_EQ(job.spec.processes_per_worker, 1);
  EXPECT_EQ(job.spec.port, 29500);
  EXPECT_EQ(job.spec.gang.scheduler, GangScheduler::kBuiltin);
  EXPECT_EQ(job.spec.gang.timeout_seconds, 300);
  EXPECT_EQ(job.spec.run_policy.backoff_limit, 3);
  EXPECT_EQ(job.spec.run_policy.restart_policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(job.spec.run_policy.clean_pod_policy, CleanPodPolicy::kRunning);
  EXPECT_EQ(job.spec.run_policy.success_policy, SuccessPolicy::kAllWorkers);
  EXPECT_FALSE(job.spec.run_policy.suspend);
  EXPECT_FALSE(job.spec.run_policy.active_deadline_seconds.has_value());
  EXPECT_FALSE(job.spec.run_policy.ttl_seconds_after_finished.has_value());
}

TEST(CodecTest, EveryFieldDecoded) {
  json j = MinimalJob();
  j["spec"]["processesPerWorker"] = 8;
  j["spec"]["port"] = 2222;
  j["spec"]["gang"] = {{"scheduler", "Volcano"},
                       {"timeoutSeconds", 60},
                       {"queue", "q"},
                       {"priorityClassName", "high"},
                       {"schedulerName", "my-volcano"}};
  j["spec"]["runPolicy"] = {{"backoffLimit", 0},
                            {"restartPolicy", "ExitCode"},
                            {"activeDeadlineSeconds", 100},
                            {"ttlSecondsAfterFinished", 0},
                            {"cleanPodPolicy", "All"},
                            {"suspend", true},
                            {"successPolicy", "RankZero"}};
  std::vector<FieldError> errors;
  TrainingJob job = DecodeTrainingJob(j, &errors);
  ASSERT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(job.spec.processes_per_worker, 8);
  EXPECT_EQ(job.spec.port, 2222);
  EXPECT_EQ(job.spec.gang.scheduler, GangScheduler::kVolcano);
  EXPECT_EQ(job.spec.gang.timeout_seconds, 60);
  EXPECT_EQ(job.spec.gang.queue, "q");
  EXPECT_EQ(job.spec.gang.priority_class_name, "high");
  EXPECT_EQ(job.spec.gang.scheduler_name, "my-volcano");
  EXPECT_EQ(job.spec.run_policy.backoff_limit, 0);
  EXPECT_EQ(job.spec.run_policy.restart_policy, RestartPolicy::kExitCode);
  EXPECT_EQ(job.spec.run_policy.active_deadline_seconds, 100);
  EXPECT_EQ(job.spec.run_policy.ttl_seconds_after_finished, 0);
  EXPECT_EQ(job.spec.run_policy.clean_pod_policy, CleanPodPolicy::kAll);
  EXPECT_TRUE(job.spec.run_policy.suspend);
  EXPECT_EQ(job.spec.run_policy.success_policy, SuccessPolicy::kRankZero);
  // The spec round-trips with every default explicit.
  json encoded = EncodeSpec(job.spec);
  EXPECT_EQ(encoded["gang"]["scheduler"], "Volcano");
  EXPECT_EQ(encoded["runPolicy"]["ttlSecondsAfterFinished"], 0);
  EXPECT_EQ(encoded["template"], j["spec"]["template"]);
}

TEST(CodecTest, UnknownPodFieldsPreserved) {
  json j = MinimalJob();
  j["spec"]["template"]["spec"]["someFutureField"] = {{"x", 1}};
  j["spec"]["template"]["spec"]["containers"][0]["resizePolicy"] = json::array({{{"a", "b"}}});
  std::vector<FieldError> errors;
  TrainingJob job = ParseTrainingJob(j, &errors);
  ASSERT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(job.spec.pod_template["spec"]["someFutureField"]["x"], 1);
  EXPECT_EQ(job.spec.pod_template["spec"]["containers"][0]["resizePolicy"][0]["a"], "b");
}

TEST(CodecTest, StatusRoundTrip) {
  TrainingJobStatus s;
  s.phase = JobPhase::kRunning;
  s.ready = "3/4";
  s.message = "3 of 4 workers ready";
  s.workers = {1, 3, 3, 0, 0};
  s.restarts = 2;
  s.start_time = "2026-01-01T00:00:00Z";
  s.observed_generation = 5;
  s.conditions.push_back(
      {"Running", "True", "GangRunning", "all running", "2026-01-01T00:00:00Z", 5});
  s.progress = Progress{10, 0.5, 1000.0, "2026-01-01T00:00:01Z"};
  std::vector<FieldError> errors;
  TrainingJobStatus back = DecodeStatus(EncodeStatus(s), &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(back, s);
}

// issue 14: progressDeadlineSeconds and the in-place restart counters.
TEST(CodecTest, ProgressDeadlineAndInPlaceRestartsRoundTrip) {
  json j = MinimalJob();
  j["spec"]["runPolicy"] = {{"progressDeadlineSeconds", 600}};
  std::vector<FieldError> errors;
  TrainingJob job = DecodeTrainingJob(j, &errors);
  ASSERT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(job.spec.run_policy.progress_deadline_seconds, 600);
  EXPECT_EQ(EncodeSpec(job.spec)["runPolicy"]["progressDeadlineSeconds"], 600);
  EXPECT_FALSE(EncodeSpec(DecodeTrainingJob(MinimalJob(), &errors).spec)["runPolicy"].contains("progressDeadlineSeconds"));

  TrainingJobStatus s;
  s.restarts = 5;
  s.attempt = 2;
  s.in_place_restarts = 3;
  s.progress = Progress{10, 0.5, 1000.0, "2026-01-01T00:00:01Z", 2, 3};
  json encoded = EncodeStatus(s);
  EXPECT_EQ(encoded["inPlaceRestarts"], 3);
  EXPECT_EQ(encoded["progress"]["attempt"], 2);
  EXPECT_EQ(encoded["progress"]["inPlaceRestarts"], 3);
  TrainingJobStatus back = DecodeStatus(encoded, &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors);
  EXPECT_EQ(back, s);
}

TEST(YamlTest, MultiDocumentAndTyping) {
  auto docs = LoadYamlDocuments(R"(---
a: 1
b: "2"
c: true
d: 'false'
e: null
f: 1.5
g: [x, "y"]
---
---
h: {k: v}
)");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);  // empty documents are skipped
  const json& d = (*docs)[0];
  EXPECT_TRUE(d["a"].is_number_integer());
  EXPECT_TRUE(d["b"].is_string());
  EXPECT_TRUE(d["c"].is_boolean());
  EXPECT_TRUE(d["d"].is_string());
  EXPECT_TRUE(d["e"].is_null());
  EXPECT_TRUE(d["f"].is_number_float());
  EXPECT_EQ(d["g"], json::array({"x", "y"}));
  EXPECT_EQ((*docs)[1]["h"]["k"], "v");
}

TEST(YamlTest, SyntaxErrorNamesLine) {
  auto docs = LoadYamlDocuments("a: 1\nb: [1, 2\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(docs.status().message().find("line"), std::string::npos) << docs.status().message();
}

TEST(YamlTest, OversizedInputRejected) {
  std::string big = "a: \"" + std::string(2 << 20, 'x') + "\"\n";
  auto docs = LoadYamlDocuments(big);
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().message(), "input is " + std::to_string(big.size()) +
                                         " bytes; the limit is 1048576 bytes (1 MiB)");
}

// Nine levels of ten aliases expand to 10^9 scalars from a file of under 400 bytes. The loader
// must refuse it after a bounded amount of work (this test finishing at all is the proof),
// with a message that names the limit.
TEST(YamlTest, BillionLaughsRefused) {
  std::string yaml = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    std::string prev = "*l" + std::to_string(level - 1);
    std::string name = "l" + std::to_string(level);
    yaml += name + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", " : "") + prev;
    yaml += "]\n";
  }
  auto docs = LoadYamlDocuments(yaml);
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(docs.status().message(),
            "YAML aliases expand the input beyond 2097152 bytes, twice the 1048576-byte input "
            "limit (a \"billion laughs\" document?)");
}

TEST(YamlTest, AliasInsideItsOwnAnchorRefused) {
  auto docs = LoadYamlDocuments("a: &a [1, *a]\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().message(),
            "YAML nests deeper than 1000 levels (an alias inside its own anchor?)");
}

// Anchors for shared pieces (an env list used by two containers) are ordinary YAML and expand.
TEST(YamlTest, AliasesExpanded) {
  auto docs = LoadYamlDocuments(R"(
env: &env [{name: A, value: "1"}]
containers:
  - {name: a, env: *env}
  - {name: b, env: *env}
)");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  json env = json::array({{{"name", "A"}, {"value", "1"}}});
  EXPECT_EQ((*docs)[0]["containers"][0]["env"], env);
  EXPECT_EQ((*docs)[0]["containers"][1]["env"], env);
}

// The budget is for expansion: an alias-free file just under the input limit loads.
TEST(YamlTest, LargeFileWithoutAliasesLoads) {
  std::string yaml = "items: [";
  while (yaml.size() < limits::kMaxInputBytes - 10) yaml += "a,";
  yaml += "a]\n";
  auto docs = LoadYamlDocuments(yaml);
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_GT((*docs)[0]["items"].size(), 500000u);
}

TEST(YamlTest, EmitRoundTripsTypes) {
  json v = {{"s", "123"},
            {"t", "true"},
            {"e", ""},
            {"n", 5},
            {"b", false},
            {"x", nullptr},
            {"l", json::array()},
            {"m", json::object()},
            {"multi", "a\nb"},
            {"plain", "hello"}};
  auto back = LoadYamlDocuments(ToYaml(v));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ((*back)[0], v);
}

}  // namespace
}  // namespace ringleader::api
