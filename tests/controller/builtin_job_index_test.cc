#include "ringleader/controller/builtin_job_index.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using nlohmann::json;

json Job(const std::string& name, const std::string& uid, const std::string& created, const std::string& scheduler = "Builtin",
         const std::string& cpu = "1", int64_t generation = 1) {
  json container = {{"name", "trainer"}, {"image", "busybox"}, {"resources", {{"requests", {{"cpu", cpu}}}}}};
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata",
           {{"name", name}, {"namespace", "ml"}, {"uid", uid}, {"creationTimestamp", created}, {"generation", generation}}},
          {"spec",
           {{"workers", 2},
            {"gang", {{"scheduler", scheduler}}},
            {"template", {{"spec", {{"containers", json::array({container})}}}}}}}};
}

std::vector<std::string> Names(const BuiltinJobIndex& index) {
  std::vector<std::string> out;
  for (const auto& [order, e] : index.Lock().in_order()) out.push_back(e->job.metadata.name);
  return out;
}

TEST(BuiltinJobIndexTest, KeepsValidBuiltinJobsOldestFirst) {
  BuiltinJobIndex index;
  index.Observe(Job("c", "u3", "2026-11-22T10:00:02Z"));
  index.Observe(Job("a", "u1", "2026-11-22T10:00:01Z"));
  index.Observe(Job("b", "u2", "2026-11-22T10:00:01Z"));  // same second: by name
  index.Observe(Job("volcano", "u4", "2026-11-22T09:00:00Z", "Volcano"));
  json invalid = Job("bad", "u5", "2026-11-22T09:00:00Z");
  invalid["spec"]["workers"] = 0;
  index.Observe(invalid);
  EXPECT_EQ(Names(index), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(index.Size(), 3u);
  ASSERT_TRUE(index.Lock().Find("u1"));
  EXPECT_EQ(index.Lock().Find("u1")->demand.requests.at("cpu"), 1000);
  EXPECT_TRUE(index.Lock().Find("u1")->job.spec.pod_template.is_null()) << "the template is not kept";
  EXPECT_FALSE(index.Lock().Find("u4"));
  EXPECT_EQ(index.WaitingForAdmission(), (std::vector<std::string>{"ml/a", "ml/b", "ml/c"}));
  json running = Job("b", "u2", "2026-11-22T10:00:01Z");
  running["status"] = {{"phase", "Running"}};
  index.Observe(running);
  EXPECT_EQ(index.WaitingForAdmission(), (std::vector<std::string>{"ml/a", "ml/c"})) << "only unadmitted jobs";
}

TEST(BuiltinJobIndexTest, UpdatesFollowTheJob) {
  BuiltinJobIndex index;
  json a = Job("a", "u1", "2026-11-22T10:00:01Z");
  index.Observe(a);
  EXPECT_FALSE(index.Lock().Find("u1")->holds_admission);
  a["status"] = {{"phase", "Scheduling"},
                 {"conditions", json::array({{{"type", "Admitted"}, {"status", "True"}, {"reason", "GangAdmitted"}}})}};
  index.Observe(a);
  EXPECT_TRUE(index.Lock().Find("u1")->holds_admission);
  a["status"]["phase"] = "Succeeded";
  index.Observe(a);
  EXPECT_FALSE(index.Lock().Find("u1")->holds_admission) << "a finished gang holds nothing";

  // A new spec (generation) gets a new demand; the same generation keeps the one computed.
  json bigger = Job("a", "u1", "2026-11-22T10:00:01Z", "Builtin", "3", 2);
  index.Observe(bigger);
  EXPECT_EQ(index.Lock().Find("u1")->demand.requests.at("cpu"), 3000);
  EXPECT_EQ(index.Lock().in_order().size(), 1u) << "an update does not duplicate the entry";

  // Switched away from Builtin, or deleted: gone.
  index.Observe(Job("a", "u1", "2026-11-22T10:00:01Z", "None", "3", 3));
  EXPECT_EQ(index.Size(), 0u);
  index.Observe(bigger);
  index.Forget(bigger);
  index.Forget(bigger);
  EXPECT_EQ(index.Size(), 0u);
  EXPECT_TRUE(index.Lock().in_order().empty());
}

TEST(BuiltinJobIndexTest, HandlersFollowInformerEvents) {
  BuiltinJobIndex index;
  kube::EventHandlers h = index.Handlers();
  auto a = std::make_shared<const json>(Job("a", "u1", "2026-11-22T10:00:01Z"));
  auto b = std::make_shared<const json>(Job("b", "u2", "2026-11-22T10:00:00Z"));
  h.on_add(a);
  h.on_add(b);
  EXPECT_EQ(Names(index), (std::vector<std::string>{"b", "a"}));
  h.on_update(a, a);
  h.on_delete(b);
  EXPECT_EQ(Names(index), (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace ringleader::controller
