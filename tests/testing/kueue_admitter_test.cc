// The test server's stand-in for Kueue's scheduler (--simulate-kueue, kueue_admitter.cc) over
// HTTP, with the Kueue CRDs of tests/e2e/data/kueue-crds.yaml: quota per ClusterQueue and
// flavor, flavor choice by quota, node labels and taints, the Pending and Inadmissible
// messages, Finished freeing quota, preemption within a ClusterQueue, StrictFIFO.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ringleader/testing/test_api_server.h"
#include "test_http.h"

namespace ringleader::testapi {
namespace {

using nlohmann::json;
using test::Http;
using test::WaitFor;

class KueueAdmitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestApiServerOptions options;
    options.simulate_kueue = true;
    server_ = std::make_unique<TestApiServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    std::ifstream in(std::string(RINGLEADER_SOURCE_DIR) + "/tests/e2e/data/kueue-crds.yaml");
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_TRUE(server_->AddCrdsFromYaml(text.str()).ok());
    base_ = server_->url() + "/apis/kueue.x-k8s.io/v1beta2";
  }
  void TearDown() override { server_->Stop(); }

  void Flavor(const std::string& name, json spec = json::object()) {
    Post(base_ + "/resourceflavors", {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
                                      {"kind", "ResourceFlavor"},
                                      {"metadata", {{"name", name}}},
                                      {"spec", spec}});
  }
  // A ClusterQueue covering cpu with the given flavors and quotas, and LocalQueue "lq" for it.
  void Queues(const std::vector<std::pair<std::string, std::string>>& flavors, json extra = json::object()) {
    json fl = json::array();
    for (const auto& [name, quota] : flavors) {
      fl.push_back({{"name", name}, {"resources", json::array({{{"name", "cpu"}, {"nominalQuota", quota}}})}});
    }
    json spec = {{"namespaceSelector", json::object()},
                 {"resourceGroups", json::array({{{"coveredResources", {"cpu"}}, {"flavors", fl}}})}};
    spec.merge_patch(extra);
    Post(base_ + "/clusterqueues", {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
                                    {"kind", "ClusterQueue"},
                                    {"metadata", {{"name", "cq"}}},
                                    {"spec", spec}});
    Post(base_ + "/namespaces/default/localqueues", {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
                                                     {"kind", "LocalQueue"},
                                                     {"metadata", {{"name", "lq"}}},
                                                     {"spec", {{"clusterQueue", "cq"}}}});
  }
  void Workload(const std::string& name, int count, const std::string& cpu, int priority = 0,
                json pod_spec_extra = json::object(), const std::string& queue = "lq") {
    json pod_spec = {{"containers", json::array({{{"name", "c"}, {"resources", {{"requests", {{"cpu", cpu}}}}}}})}};
    pod_spec.merge_patch(pod_spec_extra);
    Post(base_ + "/namespaces/default/workloads",
         {{"apiVersion", "kueue.x-k8s.io/v1beta2"},
          {"kind", "Workload"},
          {"metadata", {{"name", name}, {"labels", {{"kueue.x-k8s.io/job-uid", "job-" + name}}}}},
          {"spec",
           {{"queueName", queue},
            {"priority", priority},
            {"podSets", json::array({{{"name", "workers"}, {"count", count}, {"template", {{"spec", pod_spec}}}}})}}}});
  }
  void Post(const std::string& url, const json& body) {
    auto r = Http("POST", url, body.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  json Get(const std::string& name) { return Http("GET", base_ + "/namespaces/default/workloads/" + name).Json(); }
  void PutStatus(const json& wl) {
    auto r =
        Http("PUT", base_ + "/namespaces/default/workloads/" + wl["metadata"]["name"].get<std::string>() + "/status",
             wl.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // As a job integration would set it (the schema wants message and lastTransitionTime).
  static void SetCondition(json& wl, const std::string& type, const std::string& status, const std::string& reason) {
    json& conditions = wl["status"]["conditions"];
    for (json& c : conditions) {
      if (c["type"] == type) {
        c["status"] = status;
        c["reason"] = reason;
        return;
      }
    }
    conditions.push_back({{"type", type},
                          {"status", status},
                          {"reason", reason},
                          {"message", reason},
                          {"lastTransitionTime", "2026-11-22T10:00:00Z"}});
  }
  static std::string Cond(const json& wl, const std::string& type, std::string* message = nullptr) {
    if (!wl.contains("status") || !wl["status"].is_object()) return "-";
    for (const json& c : wl["status"].value("conditions", json::array())) {
      if (c["type"] == type) {
        if (message) *message = c.value("message", "");
        return c.value("status", "") + "/" + c.value("reason", "");
      }
    }
    return "-";
  }
  bool Is(const std::string& name, const std::string& type, const std::string& want) {
    return WaitFor([&] { return Cond(Get(name), type) == want; });
  }

  std::unique_ptr<TestApiServer> server_;
  std::string base_;
};

TEST_F(KueueAdmitterTest, AdmitsWithinQuotaAndFinishedFreesIt) {
  Flavor("a100", {{"nodeLabels", {{"pool", "a100"}}}});
  Queues({{"a100", "4"}});
  Workload("first", 2, "2");
  ASSERT_TRUE(Is("first", "QuotaReserved", "True/QuotaReserved"));
  json first = Get("first");
  EXPECT_EQ(Cond(first, "Admitted"), "True/Admitted");
  EXPECT_EQ(first["status"]["admission"], json({{"clusterQueue", "cq"},
                                                {"podSetAssignments", json::array({{{"name", "workers"},
                                                                                    {"flavors", {{"cpu", "a100"}}},
                                                                                    {"resourceUsage", {{"cpu", "4"}}},
                                                                                    {"count", 2}}})}}));

  Workload("second", 1, "500m");
  ASSERT_TRUE(Is("second", "QuotaReserved", "False/Pending"));
  std::string message;
  Cond(Get("second"), "QuotaReserved", &message);
  EXPECT_EQ(message,
            "couldn't assign flavors to pod set workers: insufficient unused quota for cpu in flavor a100, "
            "500m more needed");

  // Finished frees the quota (what a job integration writes when its job ends).
  SetCondition(first, "Finished", "True", "Succeeded");
  PutStatus(first);
  ASSERT_TRUE(Is("second", "QuotaReserved", "True/QuotaReserved"));
}

TEST_F(KueueAdmitterTest, PicksTheFirstFlavorWithQuotaMatchingSelectorAndTaints) {
  Flavor("small", {{"nodeLabels", {{"pool", "small"}}}});
  Flavor("tainted", {{"nodeLabels", {{"pool", "tainted"}}},
                     {"nodeTaints", json::array({{{"key", "gpu"}, {"value", "x"}, {"effect", "NoSchedule"}}})}});
  Flavor("big", {{"nodeLabels", {{"pool", "big"}}}});
  Queues({{"small", "1"}, {"tainted", "100"}, {"big", "100"}});
  Workload("fits-big", 2, "2");  // small lacks quota, tainted is not tolerated
  ASSERT_TRUE(Is("fits-big", "QuotaReserved", "True/QuotaReserved"));
  EXPECT_EQ(Get("fits-big")["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"], "big");
  Workload("tolerates", 2, "2", 0, {{"tolerations", json::array({{{"key", "gpu"}, {"operator", "Exists"}}})}});
  ASSERT_TRUE(Is("tolerates", "QuotaReserved", "True/QuotaReserved"));
  EXPECT_EQ(Get("tolerates")["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"], "tainted");
  Workload("pinned", 1, "1", 0, {{"nodeSelector", {{"pool", "big"}}}});  // small would fit, but not its node labels
  ASSERT_TRUE(Is("pinned", "QuotaReserved", "True/QuotaReserved"));
  EXPECT_EQ(Get("pinned")["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"], "big");
}

TEST_F(KueueAdmitterTest, MissingLocalQueueIsInadmissible) {
  Flavor("a100");
  Queues({{"a100", "4"}});
  Workload("lost", 1, "1", 0, json::object(), "nope");
  ASSERT_TRUE(Is("lost", "QuotaReserved", "False/Inadmissible"));
  std::string message;
  Cond(Get("lost"), "QuotaReserved", &message);
  EXPECT_EQ(message, "LocalQueue nope doesn't exist");
}

TEST_F(KueueAdmitterTest, PreemptsLowerPriorityWithinTheClusterQueue) {
  Flavor("a100");
  Queues({{"a100", "4"}}, {{"preemption", {{"withinClusterQueue", "LowerPriority"}}}});
  Workload("low", 2, "2", 100);
  ASSERT_TRUE(Is("low", "QuotaReserved", "True/QuotaReserved"));
  Workload("high", 2, "2", 1000);
  ASSERT_TRUE(Is("low", "Evicted", "True/Preempted"));
  std::string message;
  EXPECT_EQ(Cond(Get("low"), "Preempted", &message), "True/InClusterQueue");
  EXPECT_EQ(message.rfind("Preempted to accommodate a workload (UID: ", 0), 0u) << message;
  EXPECT_NE(message.find("JobUID: job-high) due to prioritization in the ClusterQueue"), std::string::npos) << message;
  // The evicted Workload keeps its quota until its integration gives it back.
  EXPECT_EQ(Cond(Get("high"), "QuotaReserved"), "False/Pending");
  json low = Get("low");
  low["status"].erase("admission");
  SetCondition(low, "QuotaReserved", "False", "Pending");
  SetCondition(low, "Admitted", "False", "NoReservation");
  PutStatus(low);
  ASSERT_TRUE(Is("high", "QuotaReserved", "True/QuotaReserved"));
  EXPECT_EQ(Cond(Get("low"), "QuotaReserved"), "False/Pending");  // no lower priority to preempt
  // high finishes: low is admitted again, Evicted and Preempted reset.
  json high = Get("high");
  SetCondition(high, "Finished", "True", "Succeeded");
  PutStatus(high);
  ASSERT_TRUE(Is("low", "QuotaReserved", "True/QuotaReserved"));
  EXPECT_EQ(Cond(Get("low"), "Evicted", &message), "False/QuotaReserved");
  EXPECT_EQ(message.rfind("Previously: Preempted to accommodate", 0), 0u) << message;
  EXPECT_EQ(Cond(Get("low"), "Preempted"), "False/QuotaReserved");
}

TEST_F(KueueAdmitterTest, DeactivatedWorkloadIsEvicted) {
  Flavor("a100");
  Queues({{"a100", "4"}});
  Workload("w", 1, "1");
  ASSERT_TRUE(Is("w", "QuotaReserved", "True/QuotaReserved"));
  auto r = Http("PATCH", base_ + "/namespaces/default/workloads/w", R"({"spec":{"active":false}})",
                "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(Is("w", "Evicted", "True/Deactivated"));
}

TEST_F(KueueAdmitterTest, StrictFifoHoldsYoungerWorkloadsBack) {
  Flavor("a100");
  Queues({{"a100", "4"}}, {{"queueingStrategy", "StrictFIFO"}});
  Workload("running", 1, "3");
  ASSERT_TRUE(Is("running", "QuotaReserved", "True/QuotaReserved"));
  Workload("big", 1, "2");
  ASSERT_TRUE(Is("big", "QuotaReserved", "False/Pending"));
  Workload("small", 1, "1");  // would fit, but big is older
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Cond(Get("small"), "QuotaReserved"), "-");
}

}  // namespace
}  // namespace ringleader::testapi
