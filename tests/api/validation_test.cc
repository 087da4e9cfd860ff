#include "ringleader/api/validation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

namespace ringleader::api {
namespace {

using nlohmann::json;

json ValidJob() {
  return json::parse(R"({
    "apiVersion": "ringleader.dev/v1alpha1", "kind": "TrainingJob",
    "metadata": {"name": "demo"},
    "spec": {"workers": 2, "template": {"spec": {"containers": [{"name": "t", "image": "img"}]}}}
  })");
}

// The pod spec of the template, where most rules live.
json& Pod(json& j) { return j["spec"]["template"]["spec"]; }

// One init container with a clean env, for the rows that then break it.
void AddInitContainer(json& j, json env = json::array({{{"name", "CACHE_DIR"}}})) {
  Pod(j)["initContainers"] = json::array({{{"name", "fetch"}, {"image", "busybox"}, {"env", env}}});
}

struct Case {
  const char* name;
  std::function<void(json&)> mutate;
  const char* field;    // the field the error must name
  const char* message;  // a substring of the rule
};

// gtest names allow only letters, digits and '_'.
std::string TestName(std::string name) {
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ValidationRuleTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationRuleTest, RejectsWithFieldAndRule) {
  const Case& c = GetParam();
  json j = ValidJob();
  c.mutate(j);
  std::vector<FieldError> errors;
  ParseTrainingJob(j, &errors);
  ASSERT_FALSE(errors.empty()) << "no error for " << c.name;
  bool found = false;
  for (const auto& e : errors) {
    if (e.field == c.field && e.message.find(c.message) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "want " << c.field << ": ..." << c.message << "..., got "
                     << JoinFieldErrors(errors);
}

const Case kCases[] = {
    {"workers zero", [](json& j) { j["spec"]["workers"] = 0; }, "spec.workers",
     "must be 1..4096, got 0"},
    {"workers too many", [](json& j) { j["spec"]["workers"] = 4097; }, "spec.workers",
     "must be 1..4096, got 4097"},
    {"workers missing", [](json& j) { j["spec"].erase("workers"); }, "spec.workers", "required"},
    {"workers string", [](json& j) { j["spec"]["workers"] = "4"; }, "spec.workers",
     "must be an integer, got string"},
    {"workers fractional", [](json& j) { j["spec"]["workers"] = 2.5; }, "spec.workers",
     "must be an integer"},
    {"ppw zero", [](json& j) { j["spec"]["processesPerWorker"] = 0; }, "spec.processesPerWorker",
     "must be 1..64"},
    {"ppw 65", [](json& j) { j["spec"]["processesPerWorker"] = 65; }, "spec.processesPerWorker",
     "must be 1..64, got 65"},
    {"port low", [](json& j) { j["spec"]["port"] = 80; }, "spec.port",
     "must be 1024..65535, got 80"},
    {"port high", [](json& j) { j["spec"]["port"] = 70000; }, "spec.port", "must be 1024..65535"},
    {"template missing", [](json& j) { j["spec"].erase("template"); }, "spec.template", "required"},
    {"template spec missing", [](json& j) { j["spec"]["template"] = json::object(); },
     "spec.template.spec", "required"},
    {"no containers", [](json& j) { j["spec"]["template"]["spec"]["containers"] = json::array(); },
     "spec.template.spec.containers", "at least 1"},
    {"container no name",
     [](json& j) { j["spec"]["template"]["spec"]["containers"][0].erase("name"); },
     "spec.template.spec.containers[0].name", "required"},
    {"container no image",
     [](json& j) { j["spec"]["template"]["spec"]["containers"][0].erase("image"); },
     "spec.template.spec.containers[0].image", "required"},
    {"container bad name",
     [](json& j) { j["spec"]["template"]["spec"]["containers"][0]["name"] = "Bad_Name"; },
     "spec.template.spec.containers[0].name", "DNS label"},
    {"duplicate container",
     [](json& j) {
       j["spec"]["template"]["spec"]["containers"].push_back({{"name", "t"}, {"image", "x"}});
     },
     "spec.template.spec.containers[1].name", "duplicate"},
    {"injected env",
     [](json& j) {
       j["spec"]["template"]["spec"]["containers"][0]["env"] =
           json::array({{{"name", "WORLD_SIZE"}, {"value", "9"}}});
     },
     "spec.template.spec.containers[0].env[0].name", "\"WORLD_SIZE\" is set by Ringleader"},
    {"injected ringleader env",
     [](json& j) {
       j["spec"]["template"]["spec"]["containers"][0]["env"] =
           json::array({{{"name", "RINGLEADER_MASTER_ADDR"}}});
     },
     "spec.template.spec.containers[0].env[0].name", "cannot be overridden"},
    // The operator appends its env to init containers too (controller::BuildWorkerPod).
    {"injected init container env",
     [](json& j) {
       AddInitContainer(j, json::array({{{"name", "A"}}, {{"name", "PET_NODE_RANK"}}}));
     },
     "spec.template.spec.initContainers[0].env[1].name",
     "\"PET_NODE_RANK\" is set by Ringleader for every worker and cannot be overridden"},
    {"init containers not a list", [](json& j) { Pod(j)["initContainers"] = json::object(); },
     "spec.template.spec.initContainers", "must be a list, got object"},
    {"init container not an object",
     [](json& j) { Pod(j)["initContainers"] = json::array({"fetch"}); },
     "spec.template.spec.initContainers[0]", "must be an object, got string"},
    {"init container env not a list", [](json& j) { AddInitContainer(j, "A=1"); },
     "spec.template.spec.initContainers[0].env", "must be a list, got string"},
    {"init container no image",
     [](json& j) {
       AddInitContainer(j);
       Pod(j)["initContainers"][0].erase("image");
     },
     "spec.template.spec.initContainers[0].image", "required"},
    {"init container name clashes with container",
     [](json& j) {
       AddInitContainer(j);
       Pod(j)["initContainers"][0]["name"] = "t";
     },
     "spec.template.spec.initContainers[0].name", "duplicate container name \"t\""},
    // CRD maxLength bounds on pod-template strings, enforced for objects that skip the CRD.
    {"image too long", [](json& j) { Pod(j)["containers"][0]["image"] = std::string(5000, 'i'); },
     "spec.template.spec.containers[0].image", "must be at most 4096 characters, got 5000"},
    {"image not a string", [](json& j) { Pod(j)["containers"][0]["image"] = 7; },
     "spec.template.spec.containers[0].image", "must be a string, got integer"},
    {"container name not a string", [](json& j) { Pod(j)["containers"][0]["name"] = true; },
     "spec.template.spec.containers[0].name", "must be a string, got boolean"},
    {"container name too long",
     [](json& j) { Pod(j)["containers"][0]["name"] = std::string(64, 'c'); },
     "spec.template.spec.containers[0].name", "must be at most 63 characters, got 64"},
    {"env name too long",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = json::array({{{"name", std::string(254, 'E')}}});
     },
     "spec.template.spec.containers[0].env[0].name", "must be at most 253 characters, got 254"},
    {"env name not a string",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = json::array({{{"name", 1}}});
     },
     "spec.template.spec.containers[0].env[0].name", "must be a string, got integer"},
    {"env item not an object",
     [](json& j) { Pod(j)["containers"][0]["env"] = json::array({"A=1"}); },
     "spec.template.spec.containers[0].env[0]", "must be an object, got string"},
    {"label value too long",
     [](json& j) { j["spec"]["template"]["metadata"]["labels"]["app"] = std::string(64, 'v'); },
     "spec.template.metadata.labels.app", "must be at most 63 characters, got 64"},
    {"template metadata not an object",
     [](json& j) { j["spec"]["template"]["metadata"] = "labels"; }, "spec.template.metadata",
     "must be an object, got string"},
    {"labels not an object",
     [](json& j) { j["spec"]["template"]["metadata"]["labels"] = json::array({"app"}); },
     "spec.template.metadata.labels", "must be an object, got array"},
    {"annotations not an object",
     [](json& j) { j["spec"]["template"]["metadata"]["annotations"] = "a=b"; },
     "spec.template.metadata.annotations", "must be an object, got string"},
    {"annotation value not a string",
     [](json& j) { j["spec"]["template"]["metadata"]["annotations"]["replicas"] = 3; },
     "spec.template.metadata.annotations.replicas", "must be a string, got integer"},
    {"template spec not an object", [](json& j) { j["spec"]["template"]["spec"] = json::array(); },
     "spec.template.spec", "must be an object, got array"},
    {"pod restartPolicy",
     [](json& j) { j["spec"]["template"]["spec"]["restartPolicy"] = "Always"; },
     "spec.template.spec.restartPolicy", "must be Never"},
    {"pod hostname", [](json& j) { j["spec"]["template"]["spec"]["hostname"] = "x"; },
     "spec.template.spec.hostname", "must be unset"},
    {"reserved label",
     [](json& j) { j["spec"]["template"]["metadata"]["labels"]["ringleader.dev/rank"] = "1"; },
     "spec.template.metadata.labels.ringleader.dev/rank", "reserved"},
    {"bad scheduler", [](json& j) { j["spec"]["gang"]["scheduler"] = "Kueue"; },
     "spec.gang.scheduler",
     "unsupported value \"Kueue\": must be one of Builtin, Volcano, Coscheduling, None"},
    {"gang timeout zero", [](json& j) { j["spec"]["gang"]["timeoutSeconds"] = 0; },
     "spec.gang.timeoutSeconds", "must be 1..86400"},
    {"gang timeout negative", [](json& j) { j["spec"]["gang"]["timeoutSeconds"] = -5; },
     "spec.gang.timeoutSeconds", "got -5"},
    {"bad queue", [](json& j) { j["spec"]["gang"]["queue"] = "Not A Queue"; }, "spec.gang.queue",
     "DNS subdomain"},
    {"bad priority class", [](json& j) { j["spec"]["gang"]["priorityClassName"] = "-x"; },
     "spec.gang.priorityClassName", "DNS subdomain"},
    {"backoff negative", [](json& j) { j["spec"]["runPolicy"]["backoffLimit"] = -1; },
     "spec.runPolicy.backoffLimit", "must be 0..1000"},
    {"bad restart policy", [](json& j) { j["spec"]["runPolicy"]["restartPolicy"] = "Always"; },
     "spec.runPolicy.restartPolicy", "must be one of OnFailure, Never, ExitCode"},
    {"deadline negative", [](json& j) { j["spec"]["runPolicy"]["activeDeadlineSeconds"] = -1; },
     "spec.runPolicy.activeDeadlineSeconds", "at least 1"},
    {"deadline zero", [](json& j) { j["spec"]["runPolicy"]["activeDeadlineSeconds"] = 0; },
     "spec.runPolicy.activeDeadlineSeconds", "at least 1"},
    {"in-place restarts negative", [](json& j) { j["spec"]["runPolicy"]["inPlaceRestarts"] = -1; },
     "spec.runPolicy.inPlaceRestarts", "-1"},
    {"in-place restarts too many", [](json& j) { j["spec"]["runPolicy"]["inPlaceRestarts"] = 1001; },
     "spec.runPolicy.inPlaceRestarts", "1001"},
    {"checkpointDir relative", [](json& j) { j["spec"]["checkpointDir"] = "ckpt"; }, "spec.checkpointDir",
     "must be an absolute path"},
    {"checkpointDir with ..", [](json& j) { j["spec"]["checkpointDir"] = "/data/../etc"; }, "spec.checkpointDir",
     "\"..\" components"},
    {"checkpointDir too long", [](json& j) { j["spec"]["checkpointDir"] = "/" + std::string(1024, 'c'); },
     "spec.checkpointDir", "at most 1024 characters"},
    {"checkpointDir not a string", [](json& j) { j["spec"]["checkpointDir"] = 5; }, "spec.checkpointDir",
     "must be a string"},
    {"ttl negative", [](json& j) { j["spec"]["runPolicy"]["ttlSecondsAfterFinished"] = -3; },
     "spec.runPolicy.ttlSecondsAfterFinished", "must not be negative"},
    {"bad clean policy", [](json& j) { j["spec"]["runPolicy"]["cleanPodPolicy"] = "Some"; },
     "spec.runPolicy.cleanPodPolicy", "must be one of Running, All, None"},
    {"bad success policy", [](json& j) { j["spec"]["runPolicy"]["successPolicy"] = "Any"; },
     "spec.runPolicy.successPolicy", "must be one of AllWorkers, RankZero"},
    {"suspend string", [](json& j) { j["spec"]["runPolicy"]["suspend"] = "yes"; },
     "spec.runPolicy.suspend", "must be a boolean"},
    {"unknown spec field", [](json& j) { j["spec"]["replicas"] = 3; }, "spec.replicas",
     "unknown field"},
    {"unknown runPolicy field", [](json& j) { j["spec"]["runPolicy"]["backofLimit"] = 3; },
     "spec.runPolicy.backofLimit", "unknown field"},
    {"gang not object", [](json& j) { j["spec"]["gang"] = "Volcano"; }, "spec.gang",
     "must be an object, got string"},
    {"name missing", [](json& j) { j["metadata"].erase("name"); }, "metadata.name", "required"},
    {"name uppercase", [](json& j) { j["metadata"]["name"] = "Demo"; }, "metadata.name",
     "DNS label"},
    {"name starts with digit", [](json& j) { j["metadata"]["name"] = "1demo"; }, "metadata.name",
     "must start with a lowercase letter"},
    {"name too long for hostnames",
     [](json& j) {
       j["metadata"]["name"] = std::string(55, 'a');
       j["spec"]["workers"] = 100;
     },
     "metadata.name", "too long"},
    {"bad apiVersion", [](json& j) { j["apiVersion"] = "ringleader.dev/v1"; }, "apiVersion",
     "must be ringleader.dev/v1alpha1"},
    {"bad kind", [](json& j) { j["kind"] = "Job"; }, "kind", "must be TrainingJob"},
    {"spec missing", [](json& j) { j.erase("spec"); }, "spec", "required"},
    // One row per rule that had none (audit of issue 2).
    {"pod subdomain", [](json& j) { Pod(j)["subdomain"] = "x"; }, "spec.template.spec.subdomain",
     "must be unset: the operator sets it so workers can find each other"},
    {"bad namespace", [](json& j) { j["metadata"]["namespace"] = "ML_Team"; }, "metadata.namespace",
     "must be a DNS label (lowercase letters, digits and '-', starting and ending with a letter or "
     "digit), got \"ML_Team\""},
    {"namespace too long", [](json& j) { j["metadata"]["namespace"] = std::string(64, 'n'); },
     "metadata.namespace", "must be at most 63 characters, got 64"},
    {"bad scheduler name", [](json& j) { j["spec"]["gang"]["schedulerName"] = "my_scheduler"; },
     "spec.gang.schedulerName",
     "must be a DNS subdomain (lowercase letters, digits, '-' and '.'), got \"my_scheduler\""},
    {"queue too long", [](json& j) { j["spec"]["gang"]["queue"] = std::string(254, 'q'); },
     "spec.gang.queue", "must be at most 253 characters, got 254"},
    {"priority class too long",
     [](json& j) { j["spec"]["gang"]["priorityClassName"] = std::string(254, 'p'); },
     "spec.gang.priorityClassName", "must be at most 253 characters, got 254"},
    {"scheduler name too long",
     [](json& j) { j["spec"]["gang"]["schedulerName"] = std::string(254, 's'); },
     "spec.gang.schedulerName", "must be at most 253 characters, got 254"},
    {"too many containers",
     [](json& j) {
       for (int i = 1; i <= 64; ++i) {
         Pod(j)["containers"].push_back({{"name", "c" + std::to_string(i)}, {"image", "img"}});
       }
     },
     "spec.template.spec.containers", "must have at most 64 containers, got 65"},
    {"too many env items",
     [](json& j) {
       json env = json::array();
       for (int i = 0; i < 1025; ++i) env.push_back({{"name", "V" + std::to_string(i)}});
       Pod(j)["containers"][0]["env"] = env;
     },
     "spec.template.spec.containers[0].env", "must have at most 1024 items, got 1025"},
    {"env item without name",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = json::array({{{"value", "1"}}});
     },
     "spec.template.spec.containers[0].env[0].name", "required"},
    {"env name empty",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = json::array({{{"name", ""}}});
     },
     "spec.template.spec.containers[0].env[0].name", "required"},
    {"env not a list",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = {{"A", "1"}};
     },
     "spec.template.spec.containers[0].env", "must be a list, got object"},
    {"containers not a list", [](json& j) { Pod(j)["containers"] = "trainer"; },
     "spec.template.spec.containers", "must be a list, got string"},
    {"containers missing", [](json& j) { Pod(j).erase("containers"); },
     "spec.template.spec.containers", "required: at least one container"},
    {"container not an object", [](json& j) { Pod(j)["containers"] = json::array({42}); },
     "spec.template.spec.containers[0]", "must be an object, got integer"},
    {"label value not a string",
     [](json& j) { j["spec"]["template"]["metadata"]["labels"]["tier"] = 1; },
     "spec.template.metadata.labels.tier", "must be a string, got integer"},
    {"gang timeout too long", [](json& j) { j["spec"]["gang"]["timeoutSeconds"] = 86401; },
     "spec.gang.timeoutSeconds", "must be 1..86400, got 86401"},
    {"backoff too high", [](json& j) { j["spec"]["runPolicy"]["backoffLimit"] = 1001; },
     "spec.runPolicy.backoffLimit", "must be 0..1000, got 1001"},
    {"ppw negative", [](json& j) { j["spec"]["processesPerWorker"] = -1; },
     "spec.processesPerWorker", "must be 1..64, got -1"},
    {"apiVersion missing", [](json& j) { j.erase("apiVersion"); }, "apiVersion",
     "required: must be ringleader.dev/v1alpha1"},
    {"kind missing", [](json& j) { j.erase("kind"); }, "kind", "required: must be TrainingJob"},
    {"unknown top-level field", [](json& j) { j["specs"] = json::object(); }, "specs",
     "unknown field"},
    {"unknown gang field", [](json& j) { j["spec"]["gang"]["minAvailable"] = 2; },
     "spec.gang.minAvailable", "unknown field"},
    {"gang scheduler not a string", [](json& j) { j["spec"]["gang"]["scheduler"] = 1; },
     "spec.gang.scheduler", "must be a string, got integer"},
    {"spec not an object", [](json& j) { j["spec"] = json::array(); }, "spec",
     "must be an object, got array"},
    {"template not an object", [](json& j) { j["spec"]["template"] = "pod"; }, "spec.template",
     "must be an object, got string"},
    {"metadata not an object", [](json& j) { j["metadata"] = "demo"; }, "metadata",
     "must be an object, got string"},
    {"workers null", [](json& j) { j["spec"]["workers"] = nullptr; }, "spec.workers", "required"},
    {"runPolicy not an object", [](json& j) { j["spec"]["runPolicy"] = json::array(); },
     "spec.runPolicy", "must be an object, got array"},
    {"job label not a string", [](json& j) { j["metadata"]["labels"]["team"] = 7; },
     "metadata.labels.team", "must be a string, got integer"},
    {"bad success policy type", [](json& j) { j["spec"]["runPolicy"]["successPolicy"] = true; },
     "spec.runPolicy.successPolicy", "must be a string, got boolean"},
    {"deadline string", [](json& j) { j["spec"]["runPolicy"]["activeDeadlineSeconds"] = "1h"; },
     "spec.runPolicy.activeDeadlineSeconds", "must be an integer, got string"},
};

INSTANTIATE_TEST_SUITE_P(Rules, ValidationRuleTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return TestName(info.param.name);
                         });

// Mutations of the valid job that must stay valid: the edges of each rule.
struct AcceptedCase {
  const char* name;
  std::function<void(json&)> mutate;
};

void PrintTo(const AcceptedCase& c, std::ostream* os) { *os << c.name; }

class ValidationAcceptsTest : public ::testing::TestWithParam<AcceptedCase> {};

TEST_P(ValidationAcceptsTest, NoErrors) {
  json j = ValidJob();
  GetParam().mutate(j);
  std::vector<FieldError> errors;
  ParseTrainingJob(j, &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors);
}

const AcceptedCase kAccepted[] = {
    {"init container with own env", [](json& j) { AddInitContainer(j); }},
    {"init containers null", [](json& j) { Pod(j)["initContainers"] = nullptr; }},
    // Kubernetes limits a DNS subdomain to 253 characters, not its labels to 63.
    {"long single-label priority class",
     [](json& j) { j["spec"]["gang"]["priorityClassName"] = std::string(100, 'p'); }},
    {"dotted scheduler name", [](json& j) { j["spec"]["gang"]["schedulerName"] = "a.b-c.d"; }},
    {"queue at the limit", [](json& j) { j["spec"]["gang"]["queue"] = std::string(253, 'q'); }},
    // null means unset, as everywhere in Kubernetes.
    {"pod restartPolicy null", [](json& j) { Pod(j)["restartPolicy"] = nullptr; }},
    {"pod restartPolicy Never", [](json& j) { Pod(j)["restartPolicy"] = "Never"; }},
    {"pod hostname null", [](json& j) { Pod(j)["hostname"] = nullptr; }},
    {"containers at the limit",
     [](json& j) {
       for (int i = 1; i < 64; ++i) {
         Pod(j)["containers"].push_back({{"name", "c" + std::to_string(i)}, {"image", "img"}});
       }
     }},
    {"workers at the limit", [](json& j) { j["spec"]["workers"] = 4096; }},
    // Status is the operator's: a malformed one must not make the spec invalid.
    {"malformed status",
     [](json& j) {
       j["status"] = {{"phase", "Weird"}, {"restarts", "x"}};
     }},
    {"unknown pod fields", [](json& j) { Pod(j)["resourceClaims"] = json::array(); }},
    {"image at the limit",
     [](json& j) { Pod(j)["containers"][0]["image"] = std::string(4096, 'i'); }},
    {"env name at the limit",
     [](json& j) {
       Pod(j)["containers"][0]["env"] = json::array({{{"name", std::string(253, 'E')}}});
     }},
    {"label value at the limit",
     [](json& j) { j["spec"]["template"]["metadata"]["labels"]["app"] = std::string(63, 'v'); }},
    {"empty label value", [](json& j) { j["spec"]["template"]["metadata"]["labels"]["app"] = ""; }},
    {"template metadata null", [](json& j) { j["spec"]["template"]["metadata"] = nullptr; }},
    {"checkpointDir absolute", [](json& j) { j["spec"]["checkpointDir"] = "/mnt/checkpoints/run-1"; }},
    {"in-place restarts off", [](json& j) { j["spec"]["runPolicy"]["inPlaceRestarts"] = 0; }},
};

INSTANTIATE_TEST_SUITE_P(Edges, ValidationAcceptsTest, ::testing::ValuesIn(kAccepted),
                         [](const ::testing::TestParamInfo<AcceptedCase>& info) {
                           return TestName(info.param.name);
                         });

// ValidateStatus: the CRD's status bounds, which bind the operator's own writes.
struct StatusCase {
  const char* name;
  std::function<void(TrainingJobStatus&)> mutate;
  const char* field;
  const char* message;
};

void PrintTo(const StatusCase& c, std::ostream* os) { *os << c.name; }

TrainingJobStatus ValidStatus() {
  TrainingJobStatus s;
  s.phase = JobPhase::kRunning;
  s.ready = "2/2";
  s.message = "all 2 workers running";
  s.workers.running = 2;
  s.start_time = "2026-01-01T00:00:00Z";
  s.conditions.push_back({"Running", "True", "GangRunning", "ok", "2026-01-01T00:00:00Z", 1});
  s.progress = Progress{10, 0.5, 100, "2026-01-01T00:00:05Z"};
  return s;
}

class StatusRuleTest : public ::testing::TestWithParam<StatusCase> {};

TEST_P(StatusRuleTest, RejectsWithFieldAndRule) {
  TrainingJobStatus s = ValidStatus();
  GetParam().mutate(s);
  std::vector<FieldError> errors = ValidateStatus(s);
  std::vector<FieldError> want = {{GetParam().field, GetParam().message}};
  EXPECT_EQ(errors, want) << JoinFieldErrors(errors).substr(0, 300);
}

const StatusCase kStatusCases[] = {
    {"ready too long", [](TrainingJobStatus& s) { s.ready = std::string(33, '1'); }, "status.ready",
     "must be at most 32 characters, got 33"},
    {"message too long", [](TrainingJobStatus& s) { s.message = std::string(32769, 'm'); },
     "status.message", "must be at most 32768 characters, got 32769"},
    {"negative running", [](TrainingJobStatus& s) { s.workers.running = -1; },
     "status.workers.running", "must not be negative, got -1"},
    {"negative restarts", [](TrainingJobStatus& s) { s.restarts = -2; }, "status.restarts",
     "must not be negative, got -2"},
    {"bad start time", [](TrainingJobStatus& s) { s.start_time = "yesterday"; }, "status.startTime",
     "must be an RFC 3339 date-time, got \"yesterday\""},
    {"condition reason too long",
     [](TrainingJobStatus& s) { s.conditions[0].reason = std::string(1025, 'r'); },
     "status.conditions[0].reason", "must be at most 1024 characters, got 1025"},
    {"condition message too long",
     [](TrainingJobStatus& s) { s.conditions[0].message = std::string(32769, 'm'); },
     "status.conditions[0].message", "must be at most 32768 characters, got 32769"},
    {"condition bad type", [](TrainingJobStatus& s) { s.conditions[0].type = "Ready"; },
     "status.conditions[0].type",
     "unsupported value \"Ready\": must be one of Admitted, GangScheduled, Running, Restarting, "
     "Succeeded, Failed, Suspended"},
    {"condition bad status", [](TrainingJobStatus& s) { s.conditions[0].status = "true"; },
     "status.conditions[0].status",
     "unsupported value \"true\": must be one of True, False, Unknown"},
    {"duplicate condition type",
     [](TrainingJobStatus& s) {
       s.conditions.push_back({"Running", "False"});
     },
     "status.conditions[1].type", "duplicate condition type \"Running\""},
    {"negative step", [](TrainingJobStatus& s) { s.progress->step = -1; }, "status.progress.step",
     "must not be negative, got -1"},
};

INSTANTIATE_TEST_SUITE_P(Rules, StatusRuleTest, ::testing::ValuesIn(kStatusCases),
                         [](const ::testing::TestParamInfo<StatusCase>& info) {
                           return TestName(info.param.name);
                         });

// Only seven condition types exist, so 17 conditions also repeat types; the count is one of
// the errors.
TEST(ValidationTest, TooManyConditions) {
  TrainingJobStatus s = ValidStatus();
  s.conditions.assign(17, Condition{"Running", "True"});
  std::vector<FieldError> errors = ValidateStatus(s);
  FieldError want{"status.conditions", "must have at most 16 items, got 17"};
  EXPECT_NE(std::find(errors.begin(), errors.end(), want), errors.end()) << JoinFieldErrors(errors);
}

TEST(ValidationTest, ValidStatusHasNoErrors) {
  std::vector<FieldError> errors = ValidateStatus(ValidStatus());
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors);
}

TEST(ValidationTest, ValidJobHasNoErrors) {
  std::vector<FieldError> errors;
  ParseTrainingJob(ValidJob(), &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors);
}

TEST(ValidationTest, EveryProblemListedAtOnce) {
  json j = ValidJob();
  j["spec"]["workers"] = 0;
  j["spec"]["port"] = 1;
  j["spec"]["runPolicy"]["restartPolicy"] = "Sometimes";
  j["spec"]["template"]["spec"]["containers"][0].erase("image");
  auto result = ParseTrainingJob(j);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = result.status().message();
  for (const char* field : {"spec.workers", "spec.port", "spec.runPolicy.restartPolicy",
                            "spec.template.spec.containers[0].image"}) {
    EXPECT_NE(m.find(field), std::string::npos) << field << " missing from: " << m;
  }
}

// The JSON path (the operator's) gets the 1 MiB cap the YAML loader applies to files, measured
// on the spec, with one error instead of a flood.
TEST(ValidationTest, OversizedSpecRefused) {
  json j = ValidJob();
  Pod(j)["containers"][0]["env"] = json::array();
  for (int i = 0; i < 70000; ++i) Pod(j)["containers"][0]["env"].push_back({{"name", "RANK"}});
  std::vector<FieldError> errors;
  TrainingJob job = ParseTrainingJob(j, &errors);
  EXPECT_EQ(errors,
            (std::vector<FieldError>{{"spec", "must be at most 1048576 bytes (1 MiB) as JSON"}}));
  EXPECT_EQ(job.metadata.name, "demo");  // still decoded, so the operator can fail the job
}

TEST(ValidationTest, SpecJustUnderTheCapAccepted) {
  json j = ValidJob();
  j["spec"]["template"]["metadata"]["annotations"]["blob"] = std::string(1000000, 'x');
  std::vector<FieldError> errors;
  ParseTrainingJob(j, &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors).substr(0, 200);
}

// Status and managedFields are the operator's and the API server's: they do not count.
TEST(ValidationTest, LargeStatusDoesNotCount) {
  json j = ValidJob();
  j["status"]["message"] = std::string(2 << 20, 'x');
  std::vector<FieldError> errors;
  ParseTrainingJob(j, &errors);
  EXPECT_TRUE(errors.empty()) << JoinFieldErrors(errors).substr(0, 200);
}

// A problem is reported once, not again as the consequences it has downstream.
TEST(ValidationTest, WrongTypeReportedOnce) {
  const std::pair<std::function<void(json&)>, std::vector<FieldError>> cases[] = {
      {[](json& j) { j["spec"] = json::array(); }, {{"spec", "must be an object, got array"}}},
      {[](json& j) { j["spec"]["template"] = "pod"; },
       {{"spec.template", "must be an object, got string"}}},
      {[](json& j) { j["spec"]["gang"] = 1; }, {{"spec.gang", "must be an object, got integer"}}},
      {[](json& j) { j["spec"]["workers"] = "two"; },
       {{"spec.workers", "must be an integer, got string"}}},
      {[](json& j) { j.erase("spec"); }, {{"spec", "required"}}},
      {[](json& j) { j["metadata"] = "demo"; }, {{"metadata", "must be an object, got string"}}},
      {[](json& j) { j = json::array(); }, {{"", "must be an object, got array"}}},
  };
  for (const auto& [mutate, want] : cases) {
    json j = ValidJob();
    mutate(j);
    std::vector<FieldError> errors;
    ParseTrainingJob(j, &errors);
    EXPECT_EQ(errors, want) << JoinFieldErrors(errors);
  }
}

TEST(ValidationTest, TypeErrorNotRepeatedAsRangeError) {
  json j = ValidJob();
  j["spec"]["workers"] = "many";
  std::vector<FieldError> errors;
  ParseTrainingJob(j, &errors);
  int count = 0;
  for (const auto& e : errors) count += e.field == "spec.workers";
  EXPECT_EQ(count, 1) << JoinFieldErrors(errors);
}

}  // namespace
}  // namespace ringleader::api
