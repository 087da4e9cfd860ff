#include <gtest/gtest.h>

#include <thread>

#include "ringleader/api/resources.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::kube {
namespace {

using Clock = std::chrono::steady_clock;

Json Pod(const std::string& name, Json labels = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}},
          {"status", {{"phase", "Running"}}}};
}

TEST(FakeClientTest, CreateGetUpdateConflict) {
  FakeClient client;
  StatusOr<Json> created = client.Create(PodsResource(), "ns", Pod("a"));
  ASSERT_TRUE(created.ok());
  const Json& meta = (*created)["metadata"];
  EXPECT_EQ(meta["namespace"], "ns");
  EXPECT_FALSE(meta["uid"].get<std::string>().empty());
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_FALSE(created->contains("status")) << "status is ignored on create";
  EXPECT_TRUE(client.Create(PodsResource(), "ns", Pod("a")).IsAlreadyExists());
  EXPECT_TRUE(client.Get(PodsResource(), "ns", "zz").IsNotFound());
  EXPECT_TRUE(client.Get(PodsResource(), "other", "a").IsNotFound());

  Json update = created.value();
  update["spec"]["containers"][0]["image"] = "alpine";
  update["status"] = {{"phase", "Failed"}};
  StatusOr<Json> updated = client.Update(PodsResource(), "ns", update);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);
  EXPECT_FALSE(updated->contains("status")) << "status written through the main resource is ignored";
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], meta["resourceVersion"]);
  // Stale resourceVersion → Conflict.
  StatusOr<Json> stale = client.Update(PodsResource(), "ns", update);
  EXPECT_TRUE(stale.IsConflict());
  EXPECT_EQ(ApiStatusOf(stale).reason, "Conflict");
}

// Like HttpClient: kOutcomeOnly writes answer null on success (so a caller that reads an
// answer it did not ask for fails in tests), and still store the object and report errors.
TEST(FakeClientTest, OutcomeOnlyWritesAnswerNull) {
  FakeClient client;
  StatusOr<Json> created = client.Create(PodsResource(), "ns", Pod("a"), Answer::kOutcomeOnly);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->is_null());
  StatusOr<Json> stored = client.Get(PodsResource(), "ns", "a");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(client.Create(PodsResource(), "ns", Pod("a"), Answer::kOutcomeOnly).IsAlreadyExists());

  StatusOr<Json> patched = client.Patch(PodsResource(), "ns", "a", PatchType::kMerge,
                                         {{"metadata", {{"labels", {{"x", "y"}}}}}}, "", Answer::kOutcomeOnly);
  ASSERT_TRUE(patched.ok());
  EXPECT_TRUE(patched->is_null());
  EXPECT_EQ((*client.Get(PodsResource(), "ns", "a"))["metadata"]["labels"]["x"], "y");

  Json with_status = *client.Get(PodsResource(), "ns", "a");
  with_status["status"] = {{"phase", "Running"}};
  StatusOr<Json> status = client.UpdateStatus(PodsResource(), "ns", with_status, Answer::kOutcomeOnly);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->is_null());
  EXPECT_EQ((*client.Get(PodsResource(), "ns", "a"))["status"]["phase"], "Running");
  EXPECT_TRUE(client.UpdateStatus(PodsResource(), "ns", with_status, Answer::kOutcomeOnly).IsConflict())
      << "a stale resourceVersion is still a conflict";
}

TEST(FakeClientTest, StatusSubresourceAndPatches) {
  FakeClient client;
  Json created = client.Create(TrainingJobsResource(), "ns",
                               {{"metadata", {{"name", "tj"}}}, {"spec", {{"replicas", 2}}}})
                     .value();
  Json with_status = created;
  with_status["status"] = {{"phase", "Running"}};
  with_status["spec"]["replicas"] = 99;  // ignored on /status
  StatusOr<Json> status = client.UpdateStatus(TrainingJobsResource(), "ns", with_status);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ((*status)["status"]["phase"], "Running");
  EXPECT_EQ((*status)["spec"]["replicas"], 2);
  EXPECT_EQ((*status)["metadata"]["generation"], 1);
  StatusOr<Json> merged = client.Patch(TrainingJobsResource(), "ns", "tj", PatchType::kMerge,
                                        {{"status", {{"phase", "Succeeded"}}}}, "status");
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ((*merged)["status"]["phase"], "Succeeded");
  StatusOr<Json> json_patch = client.Patch(
      TrainingJobsResource(), "ns", "tj", PatchType::kJson,
      Json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 4}}}));
  ASSERT_TRUE(json_patch.ok());
  EXPECT_EQ((*json_patch)["spec"]["replicas"], 4);
  EXPECT_EQ((*json_patch)["metadata"]["generation"], 2);
  EXPECT_EQ((*json_patch)["status"]["phase"], "Succeeded");
  StatusOr<Json> bad = client.Patch(TrainingJobsResource(), "ns", "tj", PatchType::kJson,
                                     Json::array({{{"op", "remove"}, {"path", "/nope"}}}));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  StatusOr<Json> stale = client.Patch(TrainingJobsResource(), "ns", "tj", PatchType::kMerge,
                                       {{"metadata", {{"resourceVersion", "1"}}}});
  EXPECT_TRUE(stale.IsConflict());
}

TEST(FakeClientTest, ListSelectorsAndPaging) {
  FakeClient client;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("p" + std::to_string(i),
                                                        {{"app", i % 2 ? "odd" : "even"}, {"i", std::to_string(i)}}))
                    .ok());
  }
  ASSERT_TRUE(client.Create(PodsResource(), "other", Pod("x", {{"app", "even"}})).ok());
  struct Case {
    std::string ns, selector;
    size_t want;
  };
  const std::vector<Case> cases = {
      {"ns", "", 5},          {"", "", 6},
      {"ns", "app=even", 3},  {"", "app==even", 4},
      {"ns", "app!=even", 2}, {"ns", "app in (odd, even)", 5},
      {"ns", "i notin (0,1,2)", 2}, {"ns", "i", 5},
      {"", "!i", 1},          {"ns", "app=even,i=2", 1},
  };
  for (const auto& c : cases) {
    ListOptions options;
    options.label_selector = c.selector;
    StatusOr<Json> list = client.List(PodsResource(), c.ns, options);
    ASSERT_TRUE(list.ok()) << c.selector;
    EXPECT_EQ((*list)["items"].size(), c.want) << c.ns << " " << c.selector;
  }
  ListOptions fields;
  fields.field_selector = "metadata.name=p3";
  EXPECT_EQ(client.List(PodsResource(), "", fields).value()["items"].size(), 1u);
  ListOptions paged;
  paged.limit = 2;
  StatusOr<Json> all = client.ListAll(PodsResource(), "", paged);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["items"].size(), 6u);
  EXPECT_EQ(client.ActionsFor("list").size(), cases.size() + 1 + 3);
}

// The fake parses selectors with the test API server's parser, so what a real server answers
// 400 to fails here too instead of silently matching nothing (or everything).
TEST(FakeClientTest, MalformedSelectorsAreBadRequests) {
  FakeClient client;
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("p", {{"app", "x"}})).ok());
  for (const auto& [labels, fields] : std::vector<std::pair<std::string, std::string>>{
           {"app in (x", ""}, {"app,,tier", ""}, {"", "metadata.name"}, {"", "=p"}}) {
    ListOptions options;
    options.label_selector = labels;
    options.field_selector = fields;
    StatusOr<Json> list = client.List(PodsResource(), "ns", options);
    ASSERT_FALSE(list.ok()) << labels << fields;
    EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << list.status().ToString();
  }
}

TEST(FakeClientTest, DeleteCascadesAndPreconditions) {
  FakeClient client;
  Json owner = client.Create(TrainingJobsResource(), "ns", {{"apiVersion", "ringleader.dev/v1alpha1"},
                                                            {"kind", "TrainingJob"},
                                                            {"metadata", {{"name", "tj"}}}})
                   .value();
  Json child = Pod("tj-worker-0");
  child["metadata"]["ownerReferences"] = Json::array(
      {{{"apiVersion", "ringleader.dev/v1alpha1"}, {"kind", "TrainingJob"}, {"name", "tj"},
        {"uid", owner["metadata"]["uid"]}, {"controller", true}}});
  ASSERT_TRUE(client.Create(PodsResource(), "ns", child).ok());
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "nope";
  EXPECT_TRUE(client.Delete(TrainingJobsResource(), "ns", "tj", wrong_uid).IsConflict());
  DeleteOptions right;
  right.precondition_uid = owner["metadata"]["uid"].get<std::string>();
  right.propagation_policy = "Foreground";
  ASSERT_TRUE(client.Delete(TrainingJobsResource(), "ns", "tj", right).ok());
  EXPECT_TRUE(client.Get(PodsResource(), "ns", "tj-worker-0").IsNotFound());
  EXPECT_TRUE(client.Delete(TrainingJobsResource(), "ns", "tj").IsNotFound());
}

TEST(FakeClientTest, FinalizersDelayDeletion) {
  FakeClient client;
  Json pod = Pod("f");
  pod["metadata"]["finalizers"] = {"ringleader.dev/cleanup"};
  ASSERT_TRUE(client.Create(PodsResource(), "ns", pod).ok());
  StatusOr<Json> deleting = client.Delete(PodsResource(), "ns", "f");
  ASSERT_TRUE(deleting.ok());
  EXPECT_TRUE((*deleting)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(client.Get(PodsResource(), "ns", "f").ok());
  ASSERT_TRUE(client.Patch(PodsResource(), "ns", "f", PatchType::kMerge,
                           {{"metadata", {{"finalizers", nullptr}}}})
                  .ok());
  EXPECT_TRUE(client.Get(PodsResource(), "ns", "f").IsNotFound());
}

TEST(FakeClientTest, InjectedErrors) {
  FakeClient client;
  ApiStatus conflict;
  conflict.http_code = 409;
  conflict.reason = "Conflict";
  client.InjectError("create", "pods", conflict, 2);
  EXPECT_TRUE(client.Create(PodsResource(), "ns", Pod("a")).IsConflict());
  EXPECT_TRUE(client.Create(PodsResource(), "ns", Pod("a")).IsConflict());
  EXPECT_TRUE(client.Create(PodsResource(), "ns", Pod("a")).ok());
  EXPECT_EQ(client.ActionsFor("create", "pods").size(), 3u);
}

TEST(FakeClientTest, WatchFromResourceVersionAndExpiry) {
  FakeClient client;
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("a")).ok());
  std::string rv = std::to_string(client.CurrentResourceVersion());
  std::vector<std::pair<WatchEventType, std::string>> seen;
  std::thread watcher([&] {
    WatchOptions options;
    options.resource_version = rv;
    Status s = client.Watch(PodsResource(), "ns", options, [&](WatchEvent&& e) {
      seen.emplace_back(e.type, e.object["metadata"]["name"].get<std::string>());
      return seen.size() < 3;
    });
    EXPECT_TRUE(s.ok());
  });
  ASSERT_TRUE(client.WaitForWatches(1, Clock::now() + std::chrono::seconds(10)));
  ASSERT_TRUE(client.Create(PodsResource(), "other", Pod("not-watched")).ok());
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("b")).ok());
  ASSERT_TRUE(client.Patch(PodsResource(), "ns", "b", PatchType::kMerge,
                           {{"metadata", {{"labels", {{"x", "y"}}}}}})
                  .ok());
  ASSERT_TRUE(client.Delete(PodsResource(), "ns", "a").ok());
  watcher.join();
  std::vector<std::pair<WatchEventType, std::string>> want = {
      {WatchEventType::kAdded, "b"}, {WatchEventType::kModified, "b"}, {WatchEventType::kDeleted, "a"}};
  EXPECT_EQ(seen, want);

  client.Compact();
  std::vector<WatchEventType> types;
  WatchOptions old;
  old.resource_version = rv;
  Status expired = client.Watch(PodsResource(), "ns", old, [&](WatchEvent&& e) {
    types.push_back(e.type);
    return true;
  });
  EXPECT_EQ(expired.code(), StatusCode::kGone);
  EXPECT_EQ(types, std::vector<WatchEventType>{WatchEventType::kError});
}

TEST(FakeClientTest, CloseWatchesAndStopToken) {
  FakeClient client;
  std::stop_source stop;
  std::thread a([&] {
    EXPECT_TRUE(client.Watch(PodsResource(), "", {}, [](WatchEvent&&) { return true; }).ok());
  });
  std::thread b([&] {
    EXPECT_TRUE(
        client.Watch(PodsResource(), "", {}, [](WatchEvent&&) { return true; }, stop.get_token())
            .ok());
  });
  ASSERT_TRUE(client.WaitForWatches(2, Clock::now() + std::chrono::seconds(10)));
  stop.request_stop();
  b.join();
  client.CloseWatches();
  a.join();
  EXPECT_EQ(client.OpenWatches(), 0);
}

}  // namespace
}  // namespace ringleader::kube
