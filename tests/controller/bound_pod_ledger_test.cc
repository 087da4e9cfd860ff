#include "ringleader/controller/bound_pod_ledger.h"

#include <gtest/gtest.h>

#include "ringleader/policy/gang_admission.h"

namespace ringleader::controller {
namespace {

using nlohmann::json;

json Pod(const std::string& uid, const std::string& node, const std::string& phase, const std::string& cpu,
         const std::string& owner = "") {
  json pod = {{"metadata", {{"name", "p-" + uid}, {"namespace", "ml"}, {"uid", uid}}},
              {"spec", {{"containers", json::array({{{"resources", {{"requests", {{"cpu", cpu}}}}}}})}}},
              {"status", {{"phase", phase}}}};
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  if (!owner.empty()) {
    pod["metadata"]["ownerReferences"] = json::array({{{"uid", owner}, {"controller", true}}});
  }
  return pod;
}

int64_t Held(const BoundPodLedger::Snapshot& s, const std::string& node, const std::string& resource) {
  auto n = s.held_by_node.find(node);
  if (n == s.held_by_node.end()) return 0;
  auto r = n->second.find(resource);
  return r == n->second.end() ? 0 : r->second;
}

int64_t Bound(const BoundPodLedger::Snapshot& s, const std::string& owner) {
  auto it = s.bound_by_owner.find(owner);
  return it == s.bound_by_owner.end() ? 0 : it->second;
}

TEST(BoundPodLedgerTest, CountsBoundUnfinishedPodsPerNodeAndOwner) {
  BoundPodLedger ledger;
  ledger.Observe(Pod("a", "n1", "Running", "2", "job-1"));
  ledger.Observe(Pod("b", "n1", "Pending", "500m", "job-1"));
  ledger.Observe(Pod("c", "n2", "Running", "1"));
  ledger.Observe(Pod("d", "", "Pending", "4", "job-1"));   // not bound: holds nothing
  ledger.Observe(Pod("e", "n2", "Succeeded", "4"));         // finished: holds nothing
  auto s = ledger.Take();
  EXPECT_EQ(ledger.Size(), 3u);
  EXPECT_EQ(Held(s, "n1", "cpu"), 2500);
  EXPECT_EQ(Held(s, "n1", "pods"), 2000) << "one pod slot per pod";
  EXPECT_EQ(Held(s, "n2", "cpu"), 1000);
  EXPECT_EQ(Bound(s, "job-1"), 2);
}

TEST(BoundPodLedgerTest, UpdatesMoveAndReleaseCapacity) {
  BoundPodLedger ledger;
  ledger.Observe(Pod("a", "", "Pending", "2", "job-1"));
  EXPECT_EQ(ledger.Size(), 0u);
  ledger.Observe(Pod("a", "n1", "Pending", "2", "job-1"));  // bound by the scheduler
  EXPECT_EQ(Held(ledger.Take(), "n1", "cpu"), 2000);
  ledger.Observe(Pod("a", "n1", "Running", "3", "job-1"));  // resized in place
  EXPECT_EQ(Held(ledger.Take(), "n1", "cpu"), 3000);
  ledger.Observe(Pod("a", "n1", "Failed", "3", "job-1"));   // finished: released
  auto s = ledger.Take();
  EXPECT_EQ(ledger.Size(), 0u);
  EXPECT_TRUE(s.held_by_node.empty()) << "no zero entries are left behind";
  EXPECT_EQ(Bound(s, "job-1"), 0);
  EXPECT_TRUE(s.bound_by_owner.empty());

  ledger.Observe(Pod("b", "n2", "Running", "1", "job-2"));
  ledger.Forget(Pod("b", "n2", "Running", "1", "job-2"));   // deleted
  ledger.Forget(Pod("b", "n2", "Running", "1", "job-2"));   // twice: no effect
  ledger.Forget(Pod("never-seen", "n2", "Running", "1"));
  EXPECT_TRUE(ledger.Take().held_by_node.empty());
}

TEST(BoundPodLedgerTest, HandlersFollowInformerEvents) {
  BoundPodLedger ledger;
  kube::EventHandlers h = ledger.Handlers();
  auto a = std::make_shared<const json>(Pod("a", "n1", "Running", "1", "job-1"));
  auto a2 = std::make_shared<const json>(Pod("a", "n2", "Running", "1", "job-1"));
  h.on_add(a);
  h.on_update(a, a2);
  auto s = ledger.Take();
  EXPECT_EQ(Held(s, "n1", "cpu"), 0);
  EXPECT_EQ(Held(s, "n2", "cpu"), 1000);
  h.on_delete(a2);
  EXPECT_EQ(ledger.Size(), 0u);
}

TEST(BoundPodLedgerTest, FreeCapacityFromTheLedgerMatchesTheOneFromBoundPods) {
  NodeCapacity n1;
  n1.name = "n1";
  n1.ready = true;
  n1.allocatable = {{"cpu", 4000}, {"pods", 3000}};
  BoundPodLedger ledger;
  ledger.Observe(Pod("a", "n1", "Running", "1"));
  ledger.Observe(Pod("b", "n1", "Running", "1"));
  PodDemand one_cpu;
  one_cpu.requests = {{"cpu", 1000}};
  FreeCapacity from_ledger({n1}, ledger.Take().held_by_node);
  FreeCapacity from_pods({n1}, std::vector<BoundPod>{{"n1", {{"cpu", 1000}}}, {"n1", {{"cpu", 1000}}}});
  // 2 cpu free but only 1 pod slot: one worker fits, two do not, in both.
  EXPECT_TRUE(from_ledger.TryAdmit(one_cpu, 1, false).fits);
  EXPECT_FALSE(from_ledger.TryAdmit(one_cpu, 2, false).fits);
  EXPECT_EQ(from_ledger.TryAdmit(one_cpu, 2, false).message, from_pods.TryAdmit(one_cpu, 2, false).message);
}

}  // namespace
}  // namespace ringleader::controller
