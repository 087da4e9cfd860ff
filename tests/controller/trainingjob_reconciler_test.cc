// The reconciler against FakeClient with hand-filled caches: asserts on the API calls made
// (sample-controller's controller_test.go style). Caches are refreshed from the fake only
// when a test says so, which is how cache lag is simulated.
#include "ringleader/api/resources.h"
#include "ringleader/controller/cache_fields.h"
#include "ringleader/controller/trainingjob_reconciler.h"

#include <gtest/gtest.h>

#include <set>

#include "ringleader/common/rfc3339.h"
#include "ringleader/api/validation.h"
#include "ringleader/common/metrics.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"
#include "ringleader/kube/controller.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::controller {
namespace {

using kube::FakeAction;
using kube::Json;

Json JobObject(const std::string& name, int workers, const std::string& cpu = "1",
               const std::string& scheduler = "Builtin", Json run_policy = Json::object()) {
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata", {{"name", name}, {"namespace", "ml"}}},
          {"spec",
           {{"workers", workers},
            {"gang", {{"scheduler", scheduler}, {"timeoutSeconds", 60}}},
            {"runPolicy", run_policy},
            {"template",
             {{"spec",
               {{"containers",
                 Json::array({{{"name", "trainer"},
                               {"image", "busybox"},
                               {"resources", {{"requests", {{"cpu", cpu}}}}}}})}}}}}}}};
}

Json NodeObject(const std::string& name, const std::string& cpu) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}}},
          {"status",
           {{"allocatable", {{"cpu", cpu}, {"memory", "64Gi"}, {"pods", "110"}}},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeReconciler(/*with_nodes=*/true); }

  void MakeReconciler(bool with_nodes) {
    ReconcilerCaches caches;
    caches.jobs = {&jobs_};
    caches.pods = {&pods_};
    caches.services = {&services_};
    if (with_nodes) {
      caches.nodes = &nodes_;
    } else {
      caches.nodes_unavailable_reason = "nodes is forbidden";
    }
    ReconcilerOptions options;
    options.registry = &registry_;
    options.clock = [this] { return now_; };
    options.state.restart_backoff_base = std::chrono::seconds(1);
    reconciler_ = std::make_unique<TrainingJobReconciler>(client_, caches, nullptr, options);
  }

  // Nodes are seeded: a create would drop their status, which the kubelet writes.
  void SeedNode(Json node) { client_.Seed(kube::NodesResource(), std::move(node)); }

  Json Create(const kube::GroupVersionResource& gvr, const Json& object) {
    auto result = client_.Create(gvr, gvr.namespaced ? "ml" : "", object);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : Json();
  }

  // Copies what the fake server holds into the caches (an informer catching up).
  void SyncCaches() {
    auto fill = [&](kube::Cache& cache, const kube::GroupVersionResource& gvr) {
      std::map<std::string, kube::ObjectPtr> objects;
      auto list = client_.List(gvr, "");
      EXPECT_TRUE(list.ok()) << list.status().ToString();
      if (!list.ok()) return std::map<std::string, kube::ObjectPtr>{};
      for (Json item : (*list)["items"]) {
        if (gvr == kube::PodsResource()) TrimPodForCache(item);
        auto key = kube::ObjectKeyOf(item);
        objects[key] = std::make_shared<const Json>(std::move(item));
      }
      return cache.Replace(std::move(objects));
    };
    auto previous_jobs = fill(jobs_, kube::TrainingJobsResource());
    auto previous_pods = fill(pods_, kube::PodsResource());
    fill(services_, kube::ServicesResource());
    fill(nodes_, kube::NodesResource());
    // The informer's events lower creation expectations and keep the capacity ledger.
    auto expectations = reconciler_->PodExpectationHandlers();
    auto capacity = reconciler_->PodCapacityHandlers();
    auto admission = reconciler_->JobAdmissionHandlers();
    for (const auto& [key, job] : previous_jobs) {
      if (!jobs_.Get(key)) admission.on_delete(job);
    }
    for (const auto& job : jobs_.List()) admission.on_add(job);
    for (const auto& [key, pod] : previous_pods) {
      if (!pods_.Get(key)) capacity.on_delete(pod);
    }
    for (const auto& pod : pods_.List()) {
      expectations.on_add(pod);
      capacity.on_add(pod);
    }
  }

  kube::ReconcileResult Reconcile(const std::string& name) {
    client_.ClearActions();
    return reconciler_->Reconcile("ml/" + name);
  }

  Json Job(const std::string& name) {
    auto job = client_.Get(kube::TrainingJobsResource(), "ml", name);
    EXPECT_TRUE(job.ok());
    return *job;
  }

  std::string Condition(const std::string& name, const std::string& type, std::string* reason = nullptr,
                        std::string* message = nullptr) {
    Json job = Job(name);
    for (const auto& c : job["status"].value("conditions", Json::array())) {
      if (c["type"] == type) {
        if (reason) *reason = c.value("reason", "");
        if (message) *message = c.value("message", "");
        return c.value("status", "");
      }
    }
    return "";
  }

  // Creates the job and reconciles twice: its gang is created, then its gate released.
  void CreateGangAndReleaseIt(const std::string& name, int workers) {
    Create(kube::TrainingJobsResource(), JobObject(name, workers));
    SyncCaches();
    Reconcile(name);
    SyncCaches();
    Reconcile(name);
  }

  void SetPodPhases(const std::string& phase, const Json& extra_status = Json::object()) {
    auto list = client_.List(kube::PodsResource(), "ml");
    for (Json pod : (*list)["items"]) {
      pod["status"]["phase"] = phase;
      pod["status"].update(extra_status);
      ASSERT_TRUE(client_.UpdateStatus(kube::PodsResource(), "ml", pod).ok());
    }
  }

  kube::FakeClient client_;
  kube::Cache jobs_, services_, nodes_;
  kube::Cache pods_{/*compact=*/true};  // as the operator keeps it
  metrics::Registry registry_;
  std::chrono::system_clock::time_point now_ = *ParseRfc3339("2026-11-22T10:00:00Z");
  std::unique_ptr<TrainingJobReconciler> reconciler_;
};

TEST_F(ReconcilerTest, AdmittedGangCreatesServiceAndGatedPodsThenReleasesTheGate) {
  SeedNode(NodeObject("n1", "8"));
  Create(kube::TrainingJobsResource(), JobObject("demo", 4));
  SyncCaches();

  Reconcile("demo");
  auto creates = client_.ActionsFor("create", "pods");
  ASSERT_EQ(creates.size(), 4u);
  for (const FakeAction& a : creates) {
    EXPECT_EQ(a.body["spec"]["schedulingGates"][0]["name"], kGangSchedulingGate) << a.name;
    EXPECT_EQ(a.body["metadata"]["ownerReferences"][0]["uid"], Job("demo")["metadata"]["uid"]);
  }
  EXPECT_EQ(client_.ActionsFor("create", "services").size(), 1u);
  EXPECT_EQ(Condition("demo", "Admitted"), "True");
  EXPECT_EQ(Job("demo")["status"]["phase"], "Scheduling");
  EXPECT_EQ(registry_.AddCounter("ringleader_pods_created_total", "").Get().Value(), 4);

  // All four pods seen: one patch per pod removes the gate; GangScheduled reports it.
  SyncCaches();
  Reconcile("demo");
  auto patches = client_.ActionsFor("patch", "pods");
  ASSERT_EQ(patches.size(), 4u);
  EXPECT_TRUE(patches[0].body["spec"]["schedulingGates"].is_null());
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  // Pod events requeue the job before the caches show the patches: nothing is sent again.
  jobs_.Upsert(std::make_shared<const Json>(Job("demo")));
  Reconcile("demo");
  EXPECT_TRUE(client_.ActionsFor("patch", "pods").empty()) << "gates already removed";
  std::string reason;
  EXPECT_EQ(Condition("demo", "GangScheduled", &reason), "False");
  EXPECT_EQ(reason, "PodsCreated");

  // Running everywhere → Running phase and ready 4/4; a repeat reconcile writes nothing.
  SetPodPhases("Running", {{"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}});
  SyncCaches();
  Reconcile("demo");
  EXPECT_EQ(Job("demo")["status"]["phase"], "Running");
  EXPECT_EQ(Job("demo")["status"]["ready"], "4/4");
  SyncCaches();
  Reconcile("demo");
  EXPECT_TRUE(client_.ActionsFor("update").empty()) << "status unchanged: no write";
}

TEST_F(ReconcilerTest, CacheThatHasNotSeenNewPodsDoesNotCreateThemAgain) {
  SeedNode(NodeObject("n1", "8"));
  Create(kube::TrainingJobsResource(), JobObject("demo", 3));
  SyncCaches();
  Reconcile("demo");
  ASSERT_EQ(client_.ActionsFor("create", "pods").size(), 3u);
  EXPECT_EQ(reconciler_->expectations().Pending("ml/demo"), 3u);

  // The job cache caught up (status written) but the pod cache did not: wait, do nothing.
  auto job = client_.Get(kube::TrainingJobsResource(), "ml", "demo");
  jobs_.Upsert(std::make_shared<const Json>(*job));
  auto result = Reconcile("demo");
  EXPECT_TRUE(client_.Actions().empty());
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);

  SyncCaches();
  EXPECT_EQ(reconciler_->expectations().Pending("ml/demo"), 0u);
  Reconcile("demo");
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  auto list = client_.List(kube::PodsResource(), "ml");
  EXPECT_EQ((*list)["items"].size(), 3u);
}

TEST_F(ReconcilerTest, StaleJobInCacheGetsConflictAndNoDoubleRestart) {
  SeedNode(NodeObject("n1", "8"));
  CreateGangAndReleaseIt("demo", 2);
  SetPodPhases("Running");
  SyncCaches();
  Reconcile("demo");
  // Worker 1 fails: a restart is decided and written.
  auto pod = client_.Get(kube::PodsResource(), "ml", "demo-worker-1");
  (*pod)["status"]["phase"] = "Failed";
  (*pod)["status"]["containerStatuses"] =
      Json::array({{{"name", "trainer"}, {"state", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}}}});
  ASSERT_TRUE(client_.UpdateStatus(kube::PodsResource(), "ml", *pod).ok());
  SyncCaches();
  Json stale_job = *jobs_.Get("ml/demo");
  Reconcile("demo");
  EXPECT_EQ(Job("demo")["status"]["restarts"], 1);
  EXPECT_EQ(Job("demo")["status"]["phase"], "Restarting");
  EXPECT_EQ(client_.ActionsFor("delete", "pods").size(), 2u);

  // The job cache still holds the pre-restart status: deciding again must not count twice.
  // This reconciler knows the cache predates its own write: it waits, writing nothing.
  auto result = Reconcile("demo");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_TRUE(client_.Actions().empty());
  EXPECT_EQ(Job("demo")["status"]["restarts"], 1);

  // A reconciler that does not know (the operator restarted, the cache is as stale) decides
  // again and its status write gets 409: requeued, the restart still counted once.
  MakeReconciler(/*with_nodes=*/true);
  result = Reconcile("demo");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeue);
  EXPECT_EQ(Job("demo")["status"]["restarts"], 1);
  EXPECT_EQ(registry_.AddCounter("ringleader_job_restarts_total", "").Get().Value(), 1);
}

// issue 14: a worker's node goes NotReady. The gang restarts at once (NodeLost); the next
// attempt does not wait for the pod the dead kubelet will never confirm, and the rank whose
// name it holds is created as demo-worker-1-a1 (same hostname); once its grace period plus the
// margin are past, that pod is force-deleted (gracePeriodSeconds 0).
TEST_F(ReconcilerTest, LostNodeRestartsAtOnceAndItsStuckPodNeitherBlocksNorStays) {
  SeedNode(NodeObject("n1", "8"));
  SeedNode(NodeObject("n2", "8"));
  CreateGangAndReleaseIt("demo", 2);
  for (const char* name : {"demo-worker-0", "demo-worker-1"}) {
    auto pod = client_.Get(kube::PodsResource(), "ml", name);
    (*pod)["spec"]["nodeName"] = std::string(name) == "demo-worker-0" ? "n1" : "n2";
    (*pod)["status"]["phase"] = "Running";
    client_.Seed(kube::PodsResource(), *pod);
  }
  SyncCaches();
  Reconcile("demo");
  ASSERT_EQ(Job("demo")["status"]["phase"], "Running");

  Json dead = NodeObject("n2", "8");
  dead["status"]["conditions"][0]["status"] = "Unknown";
  SeedNode(dead);
  // The dead kubelet never confirms: demo-worker-1 stays, Terminating (a finalizer keeps it in
  // the fake as the missing confirmation does on a real server).
  Json stuck = *client_.Get(kube::PodsResource(), "ml", "demo-worker-1");
  SyncCaches();
  Reconcile("demo");
  std::string reason, message;
  EXPECT_EQ(Job("demo")["status"]["phase"], "Restarting");
  EXPECT_EQ(Condition("demo", "Restarting", &reason, &message), "True");
  EXPECT_EQ(reason, "NodeLost");
  EXPECT_NE(message.find("pod demo-worker-1 on node n2 (Ready=Unknown)"), std::string::npos) << message;
  EXPECT_EQ(client_.ActionsFor("delete", "pods").size(), 2u);
  stuck["metadata"]["deletionTimestamp"] = FormatRfc3339(now_ + std::chrono::seconds(30));
  stuck["metadata"]["finalizers"] = Json::array({"test.ringleader.dev/kubelet"});
  client_.Seed(kube::PodsResource(), stuck);

  SyncCaches();
  Reconcile("demo");  // only the stuck pod is left: attempt 1 starts
  EXPECT_EQ(Job("demo")["status"]["attempt"], 1);
  SyncCaches();
  Reconcile("demo");
  auto creates = client_.ActionsFor("create", "pods");
  ASSERT_EQ(creates.size(), 2u);
  std::set<std::string> names;
  for (const FakeAction& a : creates) {
    names.insert(a.body["metadata"]["name"].get<std::string>());
    EXPECT_EQ(a.body["metadata"]["labels"][kAttemptLabel], "1");
    if (a.body["metadata"]["name"] == "demo-worker-1-a1") EXPECT_EQ(a.body["spec"]["hostname"], "demo-worker-1");
  }
  EXPECT_EQ(names, (std::set<std::string>{"demo-worker-0", "demo-worker-1-a1"}));
  EXPECT_TRUE(client_.ActionsFor("delete", "pods").empty()) << "within its grace period";

  now_ += std::chrono::seconds(30 + 15);  // its grace period and the 15 s margin are over
  SyncCaches();
  Reconcile("demo");
  auto deletes = client_.ActionsFor("delete", "pods");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].name, "demo-worker-1");
  EXPECT_EQ(deletes[0].body["gracePeriodSeconds"], 0);
}

TEST_F(ReconcilerTest, GangThatDoesNotFitWaitsWithTheShortfallAndIsAdmittedWhenANodeArrives) {
  SeedNode(NodeObject("n1", "2"));
  Create(kube::TrainingJobsResource(), JobObject("big", 4, "1"));
  SyncCaches();
  auto result = Reconcile("big");
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  std::string reason, message;
  EXPECT_EQ(Condition("big", "Admitted", &reason, &message), "False");
  EXPECT_EQ(reason, "InsufficientCapacity");
  EXPECT_NE(message.find("cpu"), std::string::npos) << message;
  EXPECT_EQ(Job("big")["status"]["phase"], "Pending");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);

  SeedNode(NodeObject("n2", "2"));
  SyncCaches();
  Reconcile("big");
  EXPECT_EQ(client_.ActionsFor("create", "pods").size(), 4u);
  EXPECT_EQ(Condition("big", "Admitted"), "True");
}

TEST_F(ReconcilerTest, OlderWaitingJobReservesCapacityBeforeAYoungerOne) {
  SeedNode(NodeObject("n1", "4"));
  Create(kube::TrainingJobsResource(), JobObject("older", 4, "1"));
  now_ += std::chrono::seconds(5);
  Json younger = JobObject("younger", 2, "1");
  Create(kube::TrainingJobsResource(), younger);
  SyncCaches();
  // The fake stamps creationTimestamp at whole seconds; make the order explicit.
  Json older_job = *jobs_.Get("ml/older");
  older_job["metadata"]["creationTimestamp"] = "2026-11-22T09:00:00Z";
  jobs_.Upsert(std::make_shared<const Json>(older_job));

  Reconcile("younger");
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty()) << "the older job fits and goes first";
  EXPECT_EQ(Condition("younger", "Admitted"), "False");
}

// Backfill is bounded: a younger gang that fits passes an older one that does not only while
// the older one has waited less than backfill_window (10 min by default).
TEST_F(ReconcilerTest, AnOlderGangWaitingLongerThanTheBackfillWindowHoldsTheLine) {
  SeedNode(NodeObject("n1", "4"));
  // Seeded with explicit creation times (the fake stamps the wall clock): the age order.
  auto job_created_at = [&](const std::string& name, int workers, const std::string& cpu, const std::string& created) {
    Json job = JobObject(name, workers, cpu);
    job["metadata"]["creationTimestamp"] = created;
    client_.Seed(kube::TrainingJobsResource(), job);
    SyncCaches();
  };
  job_created_at("running", 1, "2", "2026-11-22T08:00:00Z");
  job_created_at("huge", 4, "2", "2026-11-22T08:30:00Z");  // needs 8 cpu: never fits n1
  job_created_at("big", 2, "2", "2026-11-22T09:00:00Z");   // needs 4 cpu, 2 free
  Reconcile("running");
  ASSERT_EQ(client_.ActionsFor("create", "pods").size(), 1u);
  SyncCaches();
  Json pod = *pods_.Get("ml/running-worker-0");  // the scheduler binds it to n1
  pod["spec"]["nodeName"] = "n1";
  pod["status"]["phase"] = "Running";
  client_.Seed(kube::PodsResource(), pod);
  SyncCaches();
  Reconcile("huge");
  Reconcile("big");
  SyncCaches();
  ASSERT_EQ(Condition("big", "Admitted"), "False");

  // Within the window a small younger gang backfills past "big".
  job_created_at("small1", 1, "1", "2026-11-22T09:30:00Z");
  now_ += std::chrono::minutes(5);
  Reconcile("small1");
  EXPECT_EQ(Condition("small1", "Admitted"), "True") << "backfill within the window";
  SyncCaches();

  // Past the window, "big" (which would fit an empty n1) holds the line; "huge", older still,
  // can never fit n1 and blocks nobody.
  job_created_at("small2", 1, "1", "2026-11-22T09:40:00Z");
  now_ += std::chrono::minutes(6);
  Reconcile("small2");
  std::string reason, message;
  EXPECT_EQ(Condition("small2", "Admitted", &reason, &message), "False");
  EXPECT_EQ(reason, "InsufficientCapacity");
  EXPECT_NE(message.find("queued behind ml/big"), std::string::npos) << message;
  EXPECT_EQ(message.find("huge"), std::string::npos) << message;
}

TEST_F(ReconcilerTest, MissingPodGroupCrdIsAConditionNotAnErrorLoop) {
  Create(kube::TrainingJobsResource(), JobObject("vc", 2, "1", "Volcano"));
  SyncCaches();
  kube::ApiStatus not_found;
  not_found.http_code = 404;
  not_found.reason = "NotFound";
  client_.InjectError("create", kube::VolcanoPodGroupsResource().ToString(), not_found, 1);
  auto result = Reconcile("vc");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(result.requeue_after, std::chrono::seconds(60));
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  std::string reason, message;
  EXPECT_EQ(Condition("vc", "Admitted", &reason, &message), "False");
  EXPECT_EQ(reason, "PodGroupCRDMissing");
  EXPECT_NE(message.find("scheduling.volcano.sh/v1beta1"), std::string::npos) << message;

  // Once the PodGroup resource exists, the gang goes ahead with the group and volcano pods.
  SyncCaches();
  Reconcile("vc");
  auto groups = client_.ActionsFor("create", kube::VolcanoPodGroupsResource().ToString());
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].body["spec"]["minMember"], 2);
  auto pods = client_.ActionsFor("create", "pods");
  ASSERT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods[0].body["spec"]["schedulerName"], "volcano");
  EXPECT_FALSE(pods[0].body["spec"].contains("schedulingGates"));

  // The cache now shows the pods: they prove the PodGroup exists, so it is not POSTed again.
  SyncCaches();
  Reconcile("vc");
  EXPECT_TRUE(client_.ActionsFor("create", kube::VolcanoPodGroupsResource().ToString()).empty());
  EXPECT_EQ(Condition("vc", "GangScheduled", &reason), "False");
  EXPECT_EQ(reason, "PodsCreated");
}

TEST_F(ReconcilerTest, WithoutNodeAccessAdmissionSaysTheCheckWasSkipped) {
  MakeReconciler(/*with_nodes=*/false);
  Create(kube::TrainingJobsResource(), JobObject("demo", 2));
  SyncCaches();
  Reconcile("demo");
  std::string message;
  EXPECT_EQ(Condition("demo", "Admitted", nullptr, &message), "True");
  EXPECT_NE(message.find("capacity check skipped"), std::string::npos) << message;
  EXPECT_EQ(client_.ActionsFor("create", "pods").size(), 2u);
}

TEST_F(ReconcilerTest, ForbiddenPodCreateStopsAfterTheFirstCallAndSaysWhyInStatus) {
  SeedNode(NodeObject("n1", "64"));
  Create(kube::TrainingJobsResource(), JobObject("demo", 8));
  SyncCaches();
  kube::ApiStatus forbidden;
  forbidden.http_code = 403;
  forbidden.reason = "Forbidden";
  forbidden.message = "exceeded quota: compute";
  client_.InjectError("create", "pods", forbidden, 100);
  auto result = Reconcile("demo");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kError);
  EXPECT_EQ(client_.ActionsFor("create", "pods").size(), 1u) << "slow start: one call, not eight";
  std::string message = Job("demo")["status"].value("message", "");
  EXPECT_NE(message.find("quota"), std::string::npos) << message;
}

TEST_F(ReconcilerTest, ExpiredTtlDeletesTheJob) {
  Json policy = {{"ttlSecondsAfterFinished", 30}};
  Create(kube::TrainingJobsResource(), JobObject("done", 1, "1", "None", policy));
  Json job = Job("done");
  job["status"] = {{"phase", "Succeeded"}, {"completionTime", "2026-11-22T09:59:50Z"}};
  ASSERT_TRUE(client_.UpdateStatus(kube::TrainingJobsResource(), "ml", job).ok());
  SyncCaches();
  auto result = Reconcile("done");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_LE(result.requeue_after, std::chrono::seconds(21));
  EXPECT_GE(result.requeue_after, std::chrono::seconds(19));
  EXPECT_TRUE(client_.ActionsFor("delete").empty());
  now_ += std::chrono::seconds(21);
  SyncCaches();
  Reconcile("done");
  EXPECT_EQ(client_.ActionsFor("delete", kube::TrainingJobsResource().ToString()).size(), 1u);
}

TEST_F(ReconcilerTest, InvalidSpecFailsOnceWithEveryProblem) {
  Json bad = JobObject("bad", 2);
  bad["spec"]["processesPerWorker"] = 0;
  bad["spec"]["template"]["spec"]["containers"][0].erase("image");
  // The fake does not validate against the CRD schema (like a cluster without our schema).
  Create(kube::TrainingJobsResource(), bad);
  SyncCaches();
  auto result = Reconcile("bad");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kDone);
  std::string reason, message;
  EXPECT_EQ(Condition("bad", "Failed", &reason, &message), "True");
  EXPECT_EQ(reason, "InvalidSpec");
  EXPECT_NE(message.find("processesPerWorker"), std::string::npos) << message;
  EXPECT_NE(message.find("image"), std::string::npos) << message;
  SyncCaches();
  Reconcile("bad");
  EXPECT_TRUE(client_.Actions().empty()) << "terminal: nothing more to do";
}

TEST(TrimForCacheTest, ServicesKeepMetadataJobsLoseManagedFieldsAndLastApplied) {
  Json service = {{"metadata", {{"name", "job"}, {"namespace", "ml"}, {"uid", "s"}, {"labels", {{"a", "b"}}}}},
                  {"spec", {{"clusterIP", "None"}, {"ports", Json::array({{{"port", 29500}}})}}}};
  TrimServiceForCache(service);
  EXPECT_EQ(service, (Json{{"metadata", {{"name", "job"}, {"namespace", "ml"}, {"uid", "s"}}}}));

  Json job = JobObject("job", 2);
  job["metadata"]["managedFields"] = Json::array({{{"manager", "kubectl"}}});
  job["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", JobObject("job", 2).dump()},
                                    {"team", "ml"}};
  Json want = job;
  want["metadata"].erase("managedFields");
  want["metadata"]["annotations"] = {{"team", "ml"}};
  TrimTrainingJobForCache(job);
  EXPECT_EQ(job, want);
  job["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  TrimTrainingJobForCache(job);
  EXPECT_FALSE(job["metadata"].contains("annotations"));
  std::vector<api::FieldError> errors;
  api::ParseTrainingJob(job, &errors);
  EXPECT_TRUE(errors.empty()) << api::JoinFieldErrors(errors);
}

// A pod with everything TrimPodForCache keeps and much that it drops.
Json RichPod() {
  return {{"metadata",
               {{"name", "p"},
                {"namespace", "ml"},
                {"uid", "u"},
                {"resourceVersion", "7"},
                {"labels", {{"a", "b"}, {"ringleader.dev/rank", "3"}}},
                {"creationTimestamp", "2026-11-22T10:00:00Z"},
                {"ownerReferences", Json::array({{{"uid", "x"}, {"kind", "ReplicaSet"}},
                                                 {{"apiVersion", "ringleader.dev/v1alpha1"},
                                                  {"kind", "TrainingJob"},
                                                  {"name", "job"},
                                                  {"uid", "o"},
                                                  {"controller", true},
                                                  {"blockOwnerDeletion", true}}})},
                {"managedFields", Json::array({{{"manager", "kubectl"}}})},
                {"annotations", {{"big", std::string(1000, 'x')}}}}},
              {"spec",
               {{"nodeName", "n1"},
                {"containers",
                 Json::array({{{"name", "c"},
                               {"image", "img"},
                               {"env", Json::array({{{"name", "X"}, {"value", "1"}}})},
                               {"resources", {{"requests", {{"cpu", "2"}}}, {"limits", {{"cpu", "4"}}}}}}})},
                {"volumes", Json::array({{{"name", "v"}}})}}},
              {"status",
               {{"phase", "Failed"},
                {"conditions", Json::array({{{"type", "Ready"}, {"status", "False"}, {"lastTransitionTime", "t"}},
                                            {{"type", "PodScheduled"}, {"status", "True"}}})},
                {"containerStatuses",
                 Json::array({{{"name", "c"},
                               {"image", "img"},
                               {"state",
                                {{"terminated",
                                  {{"exitCode", 3}, {"reason", "Error"}, {"finishedAt", "f"}, {"containerID", "id"}}}}}},
                              {{"name", "sidecar"}, {"state", {{"running", {{"startedAt", "s"}}}}}}})}}}};
}

TEST(TrimPodForCacheTest, KeepsWhatTheReconcilerReadsAndDropsTheRest) {
  Json pod = RichPod();
  TrimPodForCache(pod);
  ASSERT_EQ(pod["metadata"]["ownerReferences"].size(), 1u) << "only the controller reference";
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0],
            (Json{{"apiVersion", "ringleader.dev/v1alpha1"}, {"kind", "TrainingJob"}, {"name", "job"}, {"uid", "o"},
                  {"controller", true}}));
  EXPECT_EQ(kube::ControllerOwnerKey(pod, "TrainingJob", "ringleader.dev"), "ml/job");
  EXPECT_EQ(pod["metadata"]["labels"], (Json{{"ringleader.dev/rank", "3"}})) << "only our labels";
  EXPECT_FALSE(pod["metadata"].contains("creationTimestamp"));
  EXPECT_EQ(pod["status"]["conditions"][0], (Json{{"type", "Ready"}, {"status", "False"}}));
  ASSERT_EQ(pod["status"]["containerStatuses"].size(), 1u) << "only containers that ended";
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["state"]["terminated"],
            (Json{{"exitCode", 3}, {"reason", "Error"}, {"finishedAt", "f"}}));
  EXPECT_FALSE(pod["spec"]["containers"][0].contains("name"));
  EXPECT_FALSE(pod["metadata"].contains("managedFields"));
  EXPECT_FALSE(pod["metadata"].contains("annotations"));
  EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["requests"]["cpu"], "2");
  EXPECT_FALSE(pod["spec"]["containers"][0].contains("env"));
  EXPECT_FALSE(pod["spec"].contains("volumes"));
  EXPECT_EQ(pod["spec"]["nodeName"], "n1");
  EXPECT_EQ(pod["status"]["conditions"].size(), 1u);
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3);
}

// The pod and Service informers decode through PodCacheMask / ServiceCacheMask: what the trim
// keeps must be the same as from the whole object, or the cache would silently lose a field.
TEST(TrimForCacheTest, DecodingThroughTheMaskKeepsWhatTheTrimKeeps) {
  std::vector<Json> pods = {RichPod()};
  api::TrainingJob job = *api::ParseTrainingJob(JobObject("job", 2));
  pods.push_back(BuildWorkerPod(job, 1, 0));  // as created: gated, env, labels, ownerReference
  Json odd = RichPod();
  odd["metadata"]["deletionTimestamp"] = "2026-11-22T10:00:00Z";
  odd["spec"]["initContainers"] = Json::array({{{"name", "init"}, {"restartPolicy", "Always"},
                                                 {"resources", {{"requests", {{"memory", "1Gi"}}}}}}});
  odd["spec"]["overhead"] = {{"cpu", "250m"}};
  odd["spec"]["schedulingGates"] = Json::array({{{"name", "ringleader.dev/gang"}}});
  odd["status"]["reason"] = "Evicted";
  odd["status"]["message"] = "low on memory";
  odd["status"]["conditions"].push_back({{"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "EvictionByEvictionAPI"}});
  pods.push_back(odd);
  Json wrong_types = RichPod();  // what a broken server might send: the trim copes, the mask too
  wrong_types["spec"]["containers"] = "not a list";
  wrong_types["status"]["conditions"] = Json::array({1, "x", nullptr, {{"type", 5}}, {{"type", "Ready"}, {"status", 1}}});
  wrong_types["metadata"]["labels"] = Json::array({"a"});
  wrong_types["metadata"]["ownerReferences"][1]["controller"] = "yes";
  wrong_types["status"]["containerStatuses"] = Json::array({{{"state", "running"}}, 7});
  pods.push_back(wrong_types);
  pods.push_back({{"metadata", "not an object"}, {"spec", 3}, {"junk", {{"a", 1}}}});
  for (size_t i = 0; i < pods.size(); ++i) {
    Json whole = pods[i];
    TrimPodForCache(whole);
    auto masked = kube::DecodeMasked(pods[i].dump(), *PodCacheMask());
    ASSERT_TRUE(masked.ok()) << masked.status().ToString();
    EXPECT_LT(masked->dump().size(), pods[i].dump().size()) << "pod " << i << ": the mask dropped nothing";
    TrimPodForCache(*masked);
    EXPECT_EQ(*masked, whole) << "pod " << i;
  }

  Json service = {{"metadata",
                   {{"name", "job"}, {"namespace", "ml"}, {"uid", "s"}, {"resourceVersion", "4"},
                    {"ownerReferences", Json::array({{{"uid", "o"}, {"controller", true}}})},
                    {"labels", {{"a", "b"}}}, {"managedFields", Json::array({{{"manager", "x"}}})}}},
                  {"spec", {{"clusterIP", "None"}, {"ports", Json::array({{{"port", 29500}}})}}}};
  Json whole = service;
  TrimServiceForCache(whole);
  auto masked = kube::DecodeMasked(service.dump(), *ServiceCacheMask());
  ASSERT_TRUE(masked.ok()) << masked.status().ToString();
  TrimServiceForCache(*masked);
  EXPECT_EQ(*masked, whole);
}

}  // namespace
}  // namespace ringleader::controller
