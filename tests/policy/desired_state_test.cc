#include "ringleader/policy/desired_state.h"

#include <gtest/gtest.h>

#include "ringleader/api/validation.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {
namespace {

using nlohmann::json;

api::TrainingJob Job(const std::string& scheduler = "Builtin", int workers = 3) {
  json j = json::parse(R"({
    "apiVersion": "ringleader.dev/v1alpha1", "kind": "TrainingJob",
    "metadata": {"name": "demo", "namespace": "ml", "uid": "uid-1"},
    "spec": {"processesPerWorker": 2, "port": 2345,
      "template": {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {"containers": [
          {"name": "t", "image": "img", "env": [{"name": "USER_VAR", "value": "1"}],
           "resources": {"requests": {"cpu": "2", "nvidia.com/gpu": 1}}},
          {"name": "sidecar", "image": "side"}],
         "schedulingGates": [{"name": "user/gate"}]}}}
  })");
  j["spec"]["workers"] = workers;
  j["spec"]["gang"] = {{"scheduler", scheduler}, {"queue", "q1"}, {"priorityClassName", "high"}};
  auto job = api::ParseTrainingJob(j);
  EXPECT_TRUE(job.ok()) << job.status().ToString();
  return *job;
}

std::map<std::string, std::string> Env(const json& container) {
  std::map<std::string, std::string> out;
  for (const auto& e : container["env"]) out[e["name"]] = e.value("value", "");
  return out;
}

TEST(DesiredStateTest, ServiceIsHeadlessWithRendezvousPort) {
  json svc = BuildService(Job());
  EXPECT_EQ(svc["metadata"]["name"], "demo");
  EXPECT_EQ(svc["metadata"]["namespace"], "ml");
  EXPECT_EQ(svc["spec"]["clusterIP"], "None");
  EXPECT_EQ(svc["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ(svc["spec"]["selector"][kJobNameLabel], "demo");
  EXPECT_EQ(svc["spec"]["ports"][0]["name"], "rendezvous");
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 2345);
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["controller"], true);
}

TEST(DesiredStateTest, PodNamesLabelsDnsAndOwner) {
  auto pods = BuildWorkerPods(Job(), 7);
  ASSERT_EQ(pods.size(), 3u);
  for (int rank = 0; rank < 3; ++rank) {
    const json& pod = pods[rank];
    std::string name = "demo-worker-" + std::to_string(rank);
    EXPECT_EQ(pod["metadata"]["name"], name);
    EXPECT_EQ(pod["metadata"]["labels"][kJobNameLabel], "demo");
    EXPECT_EQ(pod["metadata"]["labels"][kRankLabel], std::to_string(rank));
    EXPECT_EQ(pod["metadata"]["labels"][kAttemptLabel], "7");
    EXPECT_EQ(pod["metadata"]["labels"]["team"], "a");
    EXPECT_EQ(pod["metadata"]["annotations"]["note"], "x");
    EXPECT_EQ(pod["spec"]["hostname"], name);
    EXPECT_EQ(pod["spec"]["subdomain"], "demo");
    EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
    EXPECT_EQ(pod["spec"]["priorityClassName"], "high");
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "TrainingJob");
  }
}

TEST(DesiredStateTest, InjectedEnvInEveryContainer) {
  json pod = BuildWorkerPod(Job(), 2, 1);
  for (const json& c : pod["spec"]["containers"]) {
    auto env = Env(c);
    EXPECT_EQ(env["RINGLEADER_JOB_NAME"], "demo");
    EXPECT_EQ(env["RINGLEADER_NAMESPACE"], "ml");
    EXPECT_EQ(env["RINGLEADER_NUM_WORKERS"], "3");
    EXPECT_EQ(env["RINGLEADER_WORKER_RANK"], "2");
    EXPECT_EQ(env["RINGLEADER_PROCS_PER_WORKER"], "2");
    EXPECT_EQ(env["RINGLEADER_MASTER_ADDR"], "demo-worker-0.demo.ml.svc");
    EXPECT_EQ(env["RINGLEADER_MASTER_PORT"], "2345");
    EXPECT_EQ(env["RINGLEADER_ATTEMPT"], "1");
    EXPECT_EQ(env["MASTER_ADDR"], "demo-worker-0.demo.ml.svc");
    EXPECT_EQ(env["MASTER_PORT"], "2345");
    EXPECT_EQ(env["WORLD_SIZE"], "6");
    EXPECT_EQ(env["RANK"], "4");
    EXPECT_EQ(env["PET_NNODES"], "3");
    EXPECT_EQ(env["PET_NODE_RANK"], "2");
    EXPECT_EQ(env["PET_NPROC_PER_NODE"], "2");
    EXPECT_EQ(env["PET_MASTER_ADDR"], "demo-worker-0.demo.ml.svc");
    EXPECT_EQ(env["PET_MASTER_PORT"], "2345");
    EXPECT_EQ(env.size(), api::InjectedEnvNames().size() + (c["name"] == "t" ? 1u : 0u));
  }
  EXPECT_EQ(Env(pod["spec"]["containers"][0])["USER_VAR"], "1");  // user env kept
}

TEST(DesiredStateTest, PerSchedulerGangWiring) {
  struct Case {
    const char* scheduler;
    bool gate;
    std::string scheduler_name;
    bool volcano_annotation;
    bool cosched_label;
    bool podgroup;
  };
  const Case cases[] = {
      {"Builtin", true, "", false, false, false},
      {"Volcano", false, "volcano", true, false, true},
      {"Coscheduling", false, "scheduler-plugins-scheduler", false, true, true},
      {"None", false, "", false, false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scheduler);
    api::TrainingJob job = Job(c.scheduler);
    json pod = BuildWorkerPod(job, 0, 0);
    bool has_gate = false;
    for (const auto& g : pod["spec"]["schedulingGates"]) has_gate |= g["name"] == kGangSchedulingGate;
    EXPECT_EQ(has_gate, c.gate);
    EXPECT_EQ(pod["spec"]["schedulingGates"][0]["name"], "user/gate");  // user gates kept
    EXPECT_EQ(pod["spec"].value("schedulerName", ""), c.scheduler_name);
    EXPECT_EQ(pod["metadata"].contains("annotations") &&
                  pod["metadata"]["annotations"].contains(kVolcanoGroupAnnotation),
              c.volcano_annotation);
    EXPECT_EQ(pod["metadata"]["labels"].contains(kCoschedulingGroupLabel), c.cosched_label);
    EXPECT_EQ(BuildPodGroup(job).has_value(), c.podgroup);
  }
}

TEST(DesiredStateTest, VolcanoPodGroup) {
  auto pg = BuildPodGroup(Job("Volcano", 4));
  ASSERT_TRUE(pg);
  EXPECT_EQ((*pg)["apiVersion"], "scheduling.volcano.sh/v1beta1");
  EXPECT_EQ((*pg)["metadata"]["name"], "demo");
  EXPECT_EQ((*pg)["spec"]["minMember"], 4);
  EXPECT_EQ((*pg)["spec"]["queue"], "q1");
  EXPECT_EQ((*pg)["spec"]["priorityClassName"], "high");
  EXPECT_EQ((*pg)["spec"]["minResources"]["cpu"], "8");
  EXPECT_EQ((*pg)["spec"]["minResources"]["nvidia.com/gpu"], "4");
}

TEST(DesiredStateTest, CoschedulingPodGroup) {
  auto pg = BuildPodGroup(Job("Coscheduling", 5));
  ASSERT_TRUE(pg);
  EXPECT_EQ((*pg)["apiVersion"], "scheduling.x-k8s.io/v1alpha1");
  EXPECT_EQ((*pg)["spec"]["minMember"], 5);
  EXPECT_EQ((*pg)["spec"]["scheduleTimeoutSeconds"], 300);
}

TEST(DesiredStateTest, AllChildrenOrder) {
  auto all = BuildAllChildren(Job("Volcano", 2), 0);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["kind"], "Service");
  EXPECT_EQ(all[1]["kind"], "PodGroup");
  EXPECT_EQ(all[2]["kind"], "Pod");
  EXPECT_EQ(all[3]["metadata"]["name"], "demo-worker-1");
}

}  // namespace
}  // namespace ringleader::controller
