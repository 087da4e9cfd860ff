// The reconciler with its Kueue adapter against FakeClient, caches filled by hand (as in
// trainingjob_reconciler_test.cc): the API calls a Kueue-managed job makes, from Workload
// creation to admission, eviction and the quota given back; a missing API; a job that loses
// its label.
#include <gtest/gtest.h>

#include "ringleader/api/resources.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/common/metrics.h"
#include "ringleader/controller/kueue_adapter.h"
#include "ringleader/policy/labels.h"
#include "ringleader/controller/cache_fields.h"
#include "ringleader/controller/trainingjob_reconciler.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::controller {
namespace {

using kube::FakeAction;
using kube::Json;

Json JobObject(const std::string& name, int workers, bool labelled = true) {
  Json job = {
      {"apiVersion", "ringleader.dev/v1alpha1"},
      {"kind", "TrainingJob"},
      {"metadata", {{"name", name}, {"namespace", "ml"}}},
      {"spec",
       {{"workers", workers},
        {"gang", {{"timeoutSeconds", 60}, {"priorityClassName", "high"}}},
        {"template",
         {{"spec",
           {{"containers",
             Json::array(
                 {{{"name", "trainer"}, {"image", "busybox"}, {"resources", {{"requests", {{"cpu", "1"}}}}}}})}}}}}}}};
  if (labelled) job["metadata"]["labels"] = {{kKueueQueueNameLabel, "team-a"}};
  return job;
}

Json Cond(const std::string& type, const std::string& status, const std::string& reason) {
  return {{"type", type},
          {"status", status},
          {"reason", reason},
          {"message", reason},
          {"lastTransitionTime", "2026-11-22T09:00:00Z"}};
}

class KueueReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.Seed(PriorityClassesResource(), {{"apiVersion", "scheduling.k8s.io/v1"},
                                             {"kind", "PriorityClass"},
                                             {"metadata", {{"name", "high"}}},
                                             {"value", 1000}});
    client_.Seed(KueueLocalQueuesResource(), {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
                                              {"kind", "LocalQueue"},
                                              {"metadata", {{"name", "team-a"}, {"namespace", "ml"}}},
                                              {"spec", {{"clusterQueue", "cluster-total"}}}});
    client_.Seed(
        KueueResourceFlavorsResource(),
        {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
         {"kind", "ResourceFlavor"},
         {"metadata", {{"name", "a100"}}},
         {"spec",
          {{"nodeLabels", {{"pool", "a100"}}},
           {"tolerations", Json::array({{{"key", "gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})}}}});
    KueueAdapterOptions kueue_options;
    kueue_options.workloads_for_test = &workloads_;
    kueue_ = std::make_unique<KueueAdapter>(client_, kueue_options);
    MakeReconciler(kueue_.get());
  }

  void MakeReconciler(KueueAdapter* kueue) {
    ReconcilerCaches caches;
    caches.jobs = {&jobs_};
    caches.pods = {&pods_};
    caches.services = {&services_};
    caches.nodes_unavailable_reason = "nodes is forbidden";
    caches.kueue = kueue;
    ReconcilerOptions options;
    options.registry = &registry_;
    options.clock = [this] { return now_; };
    reconciler_ = std::make_unique<TrainingJobReconciler>(client_, caches, nullptr, options);
  }

  void SyncCaches() {
    auto fill = [&](kube::Cache& cache, const kube::GroupVersionResource& gvr, bool trim_pods) {
      std::map<std::string, kube::ObjectPtr> objects;
      auto list = client_.List(gvr, "");
      for (Json item : (*list)["items"]) {
        if (trim_pods) TrimPodForCache(item);
        if (gvr == KueueWorkloadsResource()) TrimWorkloadForCache(item);
        auto key = kube::ObjectKeyOf(item);
        objects[key] = std::make_shared<const Json>(std::move(item));
      }
      cache.Replace(std::move(objects));
    };
    fill(jobs_, kube::TrainingJobsResource(), false);
    fill(pods_, kube::PodsResource(), true);
    fill(services_, kube::ServicesResource(), false);
    fill(workloads_, KueueWorkloadsResource(), false);
    auto expectations = reconciler_->PodExpectationHandlers();
    for (const auto& pod : pods_.List()) expectations.on_add(pod);
  }

  kube::ReconcileResult Reconcile(const std::string& name) {
    client_.ClearActions();
    return reconciler_->Reconcile("ml/" + name);
  }

  Json Job(const std::string& name) { return *client_.Get(kube::TrainingJobsResource(), "ml", name); }
  Json Workload(const std::string& job) {
    auto list = client_.List(KueueWorkloadsResource(), "ml");
    for (const Json& wl : (*list)["items"]) {
      if (wl["metadata"]["labels"].value(kJobNameLabel, "") == job) return wl;
    }
    return Json();
  }
  std::string JobCondition(const std::string& name, const std::string& type) {
    for (const Json& c : Job(name)["status"].value("conditions", Json::array())) {
      if (c["type"] == type) return c.value("status", "") + "/" + c.value("reason", "");
    }
    return "-";
  }
  std::string WlCondition(const Json& wl, const std::string& type) {
    for (const Json& c : wl["status"].value("conditions", Json::array())) {
      if (c["type"] == type) return c.value("status", "") + "/" + c.value("reason", "");
    }
    return "-";
  }

  // What Kueue's scheduler writes on admission.
  void Admit(const std::string& job) {
    Json wl = Workload(job);
    wl["status"]["admission"] = {{"clusterQueue", "cluster-total"},
                                 {"podSetAssignments", Json::array({{{"name", "workers"},
                                                                     {"flavors", {{"cpu", "a100"}}},
                                                                     {"resourceUsage", {{"cpu", "2"}}},
                                                                     {"count", 2}}})}};
    wl["status"]["conditions"] =
        Json::array({Cond("QuotaReserved", "True", "QuotaReserved"), Cond("Admitted", "True", "Admitted")});
    ASSERT_TRUE(client_.UpdateStatus(KueueWorkloadsResource(), "ml", wl).ok());
  }
  void SetPodPhases(const std::string& phase, bool ready) {
    auto list = client_.List(kube::PodsResource(), "ml");
    for (Json pod : (*list)["items"]) {
      pod["status"]["phase"] = phase;
      pod["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}});
      ASSERT_TRUE(client_.UpdateStatus(kube::PodsResource(), "ml", pod).ok());
    }
  }

  kube::FakeClient client_;
  kube::Cache jobs_, services_, workloads_;
  kube::Cache pods_{/*compact=*/true};
  metrics::Registry registry_;
  std::chrono::system_clock::time_point now_ = *ParseRfc3339("2026-11-22T10:00:00Z");
  std::unique_ptr<KueueAdapter> kueue_;
  std::unique_ptr<TrainingJobReconciler> reconciler_;
};

TEST_F(KueueReconcilerTest, QueuedUntilAdmittedThenPodsCarryTheAdmission) {
  client_.Create(kube::TrainingJobsResource(), "ml", JobObject("demo", 2));
  SyncCaches();
  Reconcile("demo");
  // One Workload, with the priority of the Pods' PriorityClass; no Pod, no Service.
  auto creates = client_.ActionsFor("create", KueueWorkloadsResource().ToString());
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].body["spec"]["priority"], 1000);
  EXPECT_EQ(creates[0].body["spec"]["queueName"], "team-a");
  EXPECT_EQ(creates[0].body["metadata"]["ownerReferences"][0]["uid"], Job("demo")["metadata"]["uid"]);
  EXPECT_EQ(client_.ActionsFor("get", PriorityClassesResource().ToString()).size(), 1u);
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  EXPECT_TRUE(client_.ActionsFor("create", "services").empty());
  EXPECT_EQ(Job("demo")["status"]["phase"], "Queued");
  EXPECT_EQ(Job("demo")["status"]["message"], "queued in LocalQueue team-a (ClusterQueue cluster-total)");
  EXPECT_EQ(JobCondition("demo", "Admitted"), "False/Queued");

  // The Workload in the cache, not admitted: nothing is created again, the LocalQueue is
  // remembered (no second GET).
  SyncCaches();
  Reconcile("demo");
  EXPECT_TRUE(client_.ActionsFor("create").empty());
  EXPECT_TRUE(client_.ActionsFor("get", KueueLocalQueuesResource().ToString()).empty());

  // Admitted: the gang starts, every Pod with the flavor's node labels and tolerations.
  Admit("demo");
  SyncCaches();
  Reconcile("demo");
  auto pods = client_.ActionsFor("create", "pods");
  ASSERT_EQ(pods.size(), 2u);
  for (const FakeAction& a : pods) {
    EXPECT_EQ(a.body["spec"]["nodeSelector"]["pool"], "a100") << a.name;
    EXPECT_EQ(a.body["spec"]["tolerations"][0]["key"], "gpu") << a.name;
    EXPECT_EQ(a.body["metadata"]["labels"][kKueuePodSetLabel], "workers") << a.name;
    EXPECT_EQ(a.body["spec"]["schedulingGates"][0]["name"], kGangSchedulingGate) << a.name;  // Builtin, as set
  }
  EXPECT_EQ(JobCondition("demo", "Admitted"), "True/KueueAdmitted");
  EXPECT_EQ(WlCondition(Workload("demo"), "PodsReady"), "False/WaitForStart");

  // Running and Ready: PodsReady=True on the Workload.
  SyncCaches();
  Reconcile("demo");  // releases the gate
  SetPodPhases("Running", true);
  SyncCaches();
  Reconcile("demo");
  EXPECT_EQ(Job("demo")["status"]["phase"], "Running");
  EXPECT_EQ(WlCondition(Workload("demo"), "PodsReady"), "True/Started");
  // The status update carried the resourceVersion the decision was based on.
  SyncCaches();
  Reconcile("demo");
  EXPECT_TRUE(client_.ActionsFor("update").empty()) << "nothing changed: no write";

  // Preempted: the Pods are deleted (no grace period override: SIGTERM first), then the quota
  // is given back once they are gone.
  Json wl = Workload("demo");
  wl["status"]["conditions"].push_back(Cond("Evicted", "True", "Preempted"));
  ASSERT_TRUE(client_.UpdateStatus(KueueWorkloadsResource(), "ml", wl).ok());
  SyncCaches();
  Reconcile("demo");
  auto deletes = client_.ActionsFor("delete", "pods");
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(Job("demo")["status"]["phase"], "Queued");
  EXPECT_EQ(JobCondition("demo", "Admitted"), "False/Evicted");
  EXPECT_TRUE(client_.ActionsFor("update", KueueWorkloadsResource().ToString()).empty());
  SyncCaches();  // the fake deleted the pods at once
  Reconcile("demo");
  auto updates = client_.ActionsFor("update", KueueWorkloadsResource().ToString());
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].subresource, "status");
  wl = Workload("demo");
  EXPECT_FALSE(wl["status"].contains("admission"));
  EXPECT_EQ(WlCondition(wl, "QuotaReserved"), "False/Pending");
  EXPECT_EQ(WlCondition(wl, "Requeued"), "True/Preempted");
  EXPECT_EQ(Job("demo")["status"]["attempt"], 1);
  EXPECT_EQ(Job("demo")["status"]["restarts"], 0);
}

TEST_F(KueueReconcilerTest, StaleWorkloadCacheGetsAConflictNotALostUpdate) {
  client_.Create(kube::TrainingJobsResource(), "ml", JobObject("demo", 2));
  SyncCaches();
  Reconcile("demo");
  Admit("demo");
  SyncCaches();
  // Kueue writes again after the cache was filled: the operator's PodsReady update is based
  // on the older resourceVersion and must be refused, then decided again.
  Json wl = Workload("demo");
  wl["status"]["conditions"].push_back(Cond("Requeued", "False", "Other"));
  ASSERT_TRUE(client_.UpdateStatus(KueueWorkloadsResource(), "ml", wl).ok());
  auto result = Reconcile("demo");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeue);
  EXPECT_EQ(WlCondition(Workload("demo"), "Requeued"), "False/Other");
}

TEST_F(KueueReconcilerTest, MissingKueueApiIsReportedAndProbedSparingly) {
  KueueAdapterOptions options;  // real probing, no informer can start: the API is missing
  options.probe_interval = std::chrono::hours(1);
  kube::ApiStatus not_found;
  not_found.http_code = 404;
  not_found.reason = "NotFound";
  client_.InjectError("list", KueueWorkloadsResource().ToString(), not_found, 1);
  KueueAdapter missing(client_, options);
  missing.Start();
  EXPECT_TRUE(missing.HasSynced());
  MakeReconciler(&missing);
  client_.Create(kube::TrainingJobsResource(), "ml", JobObject("demo", 2));
  SyncCaches();
  auto result = Reconcile("demo");
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(result.requeue_after, std::chrono::seconds(60));
  EXPECT_EQ(Job("demo")["status"]["phase"], "Pending");
  EXPECT_EQ(JobCondition("demo", "Admitted"), "False/KueueCRDMissing");
  EXPECT_TRUE(client_.ActionsFor("create", "pods").empty());
  EXPECT_TRUE(client_.ActionsFor("create", KueueWorkloadsResource().ToString()).empty());
  EXPECT_TRUE(client_.ActionsFor("list", KueueWorkloadsResource().ToString()).empty())
      << "no probe within the interval";
  SyncCaches();
  Reconcile("demo");
  EXPECT_TRUE(client_.Actions().empty()) << "nothing to say twice, nothing probed";
}

TEST_F(KueueReconcilerTest, JobWithoutTheLabelRunsAsBeforeAndDropsAnOldWorkload) {
  client_.Create(kube::TrainingJobsResource(), "ml", JobObject("demo", 2));
  SyncCaches();
  Reconcile("demo");
  ASSERT_FALSE(Workload("demo").is_null());
  // The label goes: the Workload must not stay queued; the job runs without Kueue.
  Json job = Job("demo");
  job["metadata"]["labels"].erase(kKueueQueueNameLabel);
  ASSERT_TRUE(client_.Update(kube::TrainingJobsResource(), "ml", job).ok());
  SyncCaches();
  Reconcile("demo");
  EXPECT_EQ(client_.ActionsFor("delete", KueueWorkloadsResource().ToString()).size(), 1u);
  EXPECT_EQ(client_.ActionsFor("create", "pods").size(), 2u);  // capacity check skipped (no nodes)
  EXPECT_EQ(JobCondition("demo", "Admitted"), "True/GangAdmitted");
}

}  // namespace
}  // namespace ringleader::controller
