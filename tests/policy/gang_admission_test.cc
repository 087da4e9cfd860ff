#include "ringleader/policy/gang_admission.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using nlohmann::json;

NodeCapacity Node(const std::string& name, int64_t cpu, int64_t gpus, bool ready = true) {
  NodeCapacity n;
  n.name = name;
  n.allocatable = {{"cpu", cpu * 1000}, {"memory", 64LL * (1LL << 30) * 1000}, {"pods", 110000}};
  if (gpus > 0) n.allocatable["nvidia.com/gpu"] = gpus * 1000;
  n.ready = ready;
  return n;
}

PodDemand Demand(int64_t cpu, int64_t gpus) {
  PodDemand d;
  d.requests["cpu"] = cpu * 1000;
  if (gpus > 0) d.requests["nvidia.com/gpu"] = gpus * 1000;
  return d;
}

TEST(GangAdmissionTest, Table) {
  struct Case {
    const char* name;
    std::vector<NodeCapacity> nodes;
    std::vector<BoundPod> bound;
    std::vector<ReservedGang> reserved;
    PodDemand pod;
    int64_t workers;
    bool fits;
    const char* message;  // substring
  };
  NodeCapacity tainted = Node("t", 8, 8);
  tainted.taints.push_back({"nvidia.com/gpu", "", "NoSchedule"});
  NodeCapacity cordoned = Node("c", 8, 8);
  cordoned.unschedulable = true;
  NodeCapacity labelled = Node("l", 8, 8);
  labelled.labels["pool"] = "a100";
  PodDemand tolerating = Demand(1, 8);
  tolerating.tolerations = json::array({{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  PodDemand selecting = Demand(1, 8);
  selecting.node_selector["pool"] = "a100";

  const Case cases[] = {
      {"fits exactly", {Node("a", 8, 8), Node("b", 8, 8)}, {}, {}, Demand(1, 8), 2, true, "fit"},
      {"gpu shortage", {Node("a", 8, 8)}, {}, {}, Demand(1, 8), 2, false, "needs 16 nvidia.com/gpu, 8 free"},
      {"bound pods use capacity", {Node("a", 8, 8), Node("b", 8, 8)}, {{"b", {{"nvidia.com/gpu", 8000}}}}, {},
       Demand(1, 8), 2, false, "needs 16 nvidia.com/gpu, 8 free"},
      {"reserved gang holds capacity", {Node("a", 8, 8), Node("b", 8, 8)}, {}, {{Demand(1, 8), 1}}, Demand(1, 8), 2,
       false, "8 free"},
      {"fragmented", {Node("a", 8, 4), Node("b", 8, 4)}, {}, {}, Demand(1, 8), 1, false, "fragmented"},
      {"not ready node ignored", {Node("a", 8, 8), Node("b", 8, 8, false)}, {}, {}, Demand(1, 8), 2, false, "8 free"},
      {"cordoned ignored", {Node("a", 8, 8), cordoned}, {}, {}, Demand(1, 8), 2, false, "8 free"},
      {"taint not tolerated", {tainted}, {}, {}, Demand(1, 8), 1, false, "no Ready, schedulable node"},
      {"taint tolerated", {tainted}, {}, {}, tolerating, 1, true, "fit"},
      {"node selector", {Node("a", 8, 8), labelled}, {}, {}, selecting, 1, true, "fit"},
      {"node selector shortage", {Node("a", 8, 8), labelled}, {}, {}, selecting, 2, false, "needs 16 nvidia.com/gpu, 8 free"},
      {"cpu only many per node", {Node("a", 4, 0)}, {}, {}, Demand(1, 0), 4, true, "fit"},
      {"cpu shortage", {Node("a", 4, 0)}, {}, {}, Demand(1, 0), 5, false, "needs 5 cpu, 4 free"},
      {"extended resource missing", {Node("a", 8, 0)}, {}, {}, PodDemand{{{"example.com/fpga", 1000}}}, 1, false,
       "needs 1 example.com/fpga, 0 free"},
      {"pod count limit", {[] { auto n = Node("a", 100, 0); n.allocatable["pods"] = 2000; return n; }()}, {}, {},
       Demand(1, 0), 3, false, "needs"},
      {"no nodes", {}, {}, {}, Demand(1, 0), 1, false, "no Ready, schedulable node"},
  };
  for (const Case& c : cases) {
    AdmissionResult r = CheckGangFits(c.nodes, c.bound, c.reserved, c.pod, c.workers);
    EXPECT_EQ(r.fits, c.fits) << c.name << ": " << r.message;
    EXPECT_NE(r.message.find(c.message), std::string::npos) << c.name << ": " << r.message;
  }
}

TEST(GangAdmissionTest, FromJson) {
  json node = json::parse(R"({"metadata": {"name": "n1", "labels": {"zone": "a"}},
    "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
    "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "4", "pods": "110"},
               "conditions": [{"type": "Ready", "status": "True"}]}})");
  NodeCapacity n = NodeCapacityFromJson(node);
  EXPECT_EQ(n.name, "n1");
  EXPECT_TRUE(n.ready);
  EXPECT_EQ(n.allocatable["cpu"], 8000);
  EXPECT_EQ(n.allocatable["nvidia.com/gpu"], 4000);
  EXPECT_EQ(n.labels["zone"], "a");
  ASSERT_EQ(n.taints.size(), 1u);
  EXPECT_EQ(n.taints[0].effect, "NoSchedule");

  json pod = json::parse(R"({"spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "2"}}}]},
                             "status": {"phase": "Running"}})");
  EXPECT_TRUE(HoldsCapacity(pod));
  pod["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(HoldsCapacity(pod));
  EXPECT_EQ(BoundPodFromJson(pod).requests["cpu"], 2000);
  EXPECT_EQ(FormatResourceAmount("memory", 16LL * (1LL << 30) * 1000), "16Gi");
}

}  // namespace
}  // namespace ringleader::controller

namespace ringleader::controller {
namespace {

TEST(FreeCapacityTest, OnlyACommittedGangThatFitsKeepsItsPlace) {
  FreeCapacity capacity({Node("a", 8, 8), Node("b", 8, 8)}, std::vector<BoundPod>{});
  EXPECT_TRUE(capacity.TryAdmit(Demand(1, 8), 2, /*commit=*/false).fits);
  EXPECT_TRUE(capacity.TryAdmit(Demand(1, 8), 2, /*commit=*/false).fits) << "a trial takes nothing";
  EXPECT_FALSE(capacity.TryAdmit(Demand(1, 8), 3, /*commit=*/true).fits);
  EXPECT_TRUE(capacity.TryAdmit(Demand(1, 8), 1, /*commit=*/true).fits) << "a failed commit took nothing";
  AdmissionResult rest = capacity.TryAdmit(Demand(1, 8), 2, /*commit=*/false);
  EXPECT_FALSE(rest.fits);
  EXPECT_EQ(rest.message, "needs 16 nvidia.com/gpu, 8 free");
  capacity.Reserve({Demand(1, 8), 1});
  EXPECT_FALSE(capacity.TryAdmit(Demand(1, 1), 1, /*commit=*/false).fits);
}

}  // namespace
}  // namespace ringleader::controller

namespace ringleader::controller {
namespace {

// Placements that resume where the last one of the same shape ended, trials given back and
// remembered failures must decide exactly as first-fit from node 0 on a copy does, whatever
// the order of reservations and trials.
TEST(FreeCapacityTest, ShapeHintsDecideAsFirstFitFromTheFirstNode) {
  std::vector<NodeCapacity> nodes;
  for (int i = 0; i < 12; ++i) nodes.push_back(Node("n" + std::to_string(i), 1 + (i * 7) % 9, i % 3));
  nodes[4].taints.push_back({"dedicated", "x", "NoSchedule"});
  nodes[7].ready = false;
  std::vector<PodDemand> shapes;
  for (int cpu : {1, 2, 3}) {
    for (int gpu : {0, 1}) {
      PodDemand d = PodDemandFromSpec(
          {{"containers", json::array({{{"resources", {{"requests", {{"cpu", std::to_string(cpu)},
                                                                      {"nvidia.com/gpu", std::to_string(gpu)}}}}}}})}});
      ASSERT_FALSE(d.shape.empty());
      shapes.push_back(d);
    }
  }
  EXPECT_NE(shapes[0].shape, shapes[1].shape);
  uint32_t seed = 12345;
  auto next = [&seed](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  // The oracle: a fresh one-shot check of everything committed so far, without shapes.
  int fits = 0, misses = 0;
  for (int round = 0; round < 50; ++round) {
    FreeCapacity hinted(nodes, std::vector<BoundPod>{});
    std::vector<ReservedGang> committed;
    for (int step = 0; step < 40; ++step) {
      PodDemand d = shapes[next(static_cast<uint32_t>(shapes.size()))];
      PodDemand unshaped = d;
      unshaped.shape.clear();
      int64_t workers = 1 + next(6);
      AdmissionResult want = CheckGangFits(nodes, {}, committed, unshaped, workers);
      bool commit = next(2) == 0;
      switch (next(3)) {
        case 0:
          hinted.Reserve({d, workers});
          committed.push_back({unshaped, workers});  // as many as fit, like Reserve
          continue;
        case 1:  // the message-less form, with its memory of failed shapes
          ASSERT_EQ(hinted.Admit(d, workers, commit), want.fits) << "round " << round << " step " << step;
          break;
        default: {
          AdmissionResult got = hinted.TryAdmit(d, workers, commit);
          ASSERT_EQ(got.fits, want.fits) << "round " << round << " step " << step;
          ASSERT_EQ(got.message, want.message) << "round " << round << " step " << step;
        }
      }
      (want.fits ? fits : misses) += 1;
      if (want.fits && commit) committed.push_back({unshaped, workers});
    }
  }
  EXPECT_GT(fits, 100) << "the trials must exercise both outcomes";
  EXPECT_GT(misses, 100);
}

}  // namespace
}  // namespace ringleader::controller
