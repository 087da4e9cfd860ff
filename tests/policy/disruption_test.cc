// disruption.h: node health, disruption reasons and stuck pods. How the state machine acts on
// them is tested in trainingjob_state_test.cc ("issue 14").
#include "ringleader/policy/disruption.h"

#include <gtest/gtest.h>

#include "ringleader/common/rfc3339.h"

namespace ringleader::controller {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const auto kT0 = *ParseRfc3339("2026-11-22T10:00:00Z");

LostNodes Lost(const std::string& node, bool out_of_service = false) {
  return {{node, NodeHealth{true, out_of_service, "Ready=Unknown"}}};
}

TEST(NodeHealthTest, ReadyConditionAndTaintsDecide) {
  struct Case {
    const char* what;
    json node;
    bool lost;
    bool out_of_service;
  };
  json ready = {{"type", "Ready"}, {"status", "True"}};
  std::vector<Case> cases = {
      {"ready", {{"status", {{"conditions", {ready}}}}}, false, false},
      {"not ready", {{"status", {{"conditions", {{{"type", "Ready"}, {"status", "False"}}}}}}}, true, false},
      {"unknown", {{"status", {{"conditions", {{{"type", "Ready"}, {"status", "Unknown"}}}}}}}, true, false},
      {"unreachable NoExecute",
       {{"spec", {{"taints", {{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}}}}}},
        {"status", {{"conditions", {ready}}}}},
       true,
       false},
      {"unreachable NoSchedule only",
       {{"spec", {{"taints", {{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoSchedule"}}}}}},
        {"status", {{"conditions", {ready}}}}},
       false,
       false},
      {"out of service",
       {{"spec", {{"taints", {{{"key", "node.kubernetes.io/out-of-service"}, {"effect", "NoExecute"}}}}}},
        {"status", {{"conditions", {ready}}}}},
       true,
       true},
      {"cordoned is not lost", {{"spec", {{"unschedulable", true}}}, {"status", {{"conditions", {ready}}}}}, false, false},
  };
  for (const Case& c : cases) {
    NodeHealth h = NodeHealthFromJson(c.node);
    EXPECT_EQ(h.lost, c.lost) << c.what;
    EXPECT_EQ(h.out_of_service, c.out_of_service) << c.what;
    EXPECT_EQ(h.why.empty(), !c.lost) << c.what << ": " << h.why;
  }
}

TEST(DisruptionTest, ReasonsAreMapped) {
  EXPECT_EQ(DisruptionReason("PreemptionByScheduler"), "Preempted");
  EXPECT_EQ(DisruptionReason("EvictionByEvictionAPI"), "Evicted");
  EXPECT_EQ(DisruptionReason("TerminationByKubelet"), "Evicted");
  EXPECT_EQ(DisruptionReason("DeletionByTaintManager"), "NodeLost");
  EXPECT_EQ(DisruptionReason("Evicted"), "Evicted");
  EXPECT_EQ(DisruptionReason(""), "Disruption");
}

// A pod on a live node always gets its grace period, however long ago it ended.
TEST(DisruptionTest, LiveKubeletAlwaysGetsTheGracePeriod) {
  ObservedPod pod;
  pod.name = "demo-worker-1";
  pod.node_name = "node-1";
  pod.terminating = true;
  pod.deletion_timestamp = FormatRfc3339(kT0 - seconds(600));
  EXPECT_TRUE(FindStuckPods({pod}, {}, kT0, seconds(15)).force_delete.empty());
  EXPECT_TRUE(FindStuckPods({pod}, Lost("node-2"), kT0, seconds(15)).force_delete.empty());
}

TEST(DisruptionTest, StuckPodsAreForceDeletedAfterGraceAndMargin) {
  ObservedPod pod;
  pod.name = "demo-worker-1";
  pod.phase = "Running";
  pod.node_name = "node-1";
  pod.terminating = true;
  pod.deletion_timestamp = FormatRfc3339(kT0);  // grace period ends at kT0
  LostNodes lost = Lost("node-1");
  StuckPods early = FindStuckPods({pod}, lost, kT0 + seconds(14), seconds(15));
  EXPECT_TRUE(early.force_delete.empty());
  ASSERT_TRUE(early.next_check);
  EXPECT_EQ(*early.next_check, kT0 + seconds(15));
  StuckPods due = FindStuckPods({pod}, lost, kT0 + seconds(20), seconds(15));
  ASSERT_EQ(due.force_delete.size(), 1u);
  EXPECT_EQ(due.force_delete[0].name, "demo-worker-1");
  EXPECT_NE(due.force_delete[0].message.find("node node-1 (Ready=Unknown) 20s past its grace period"),
            std::string::npos)
      << due.force_delete[0].message;
  // Out of service: at once.
  StuckPods oos = FindStuckPods({pod}, Lost("node-1", true), kT0 - seconds(20), seconds(15));
  EXPECT_EQ(oos.force_delete.size(), 1u);

}

}  // namespace
}  // namespace ringleader::controller
