// HttpClient and the engine against the in-process test API server (ringleader_testing),
// over real HTTP on 127.0.0.1:0.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "ringleader/common/metrics.h"
#include "ringleader/kube/controller.h"
#include "ringleader/kube/event_recorder.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/informer.h"
#include "ringleader/kube/leader_election.h"
#include "ringleader/testing/test_api_server.h"

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Eventually(const std::function<bool()>& condition, Clock::duration timeout = seconds(15)) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));  // polling a condition, not sleeping for it
  }
  return true;
}

Json Pod(const std::string& name, Json labels = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
}

class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rl-kube-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    testapi::TestApiServerOptions options;
    options.kubeconfig_out = (dir_ / "kubeconfig").string();
    options.bookmark_interval = milliseconds(50);
    server_ = std::make_unique<testapi::TestApiServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    // The operator's path: load the kubeconfig the server wrote.
    StatusOr<RestConfig> config = LoadKubeconfig({options.kubeconfig_out, ""});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->default_namespace, "default");
    HttpClientOptions client_options;
    client_options.registry = &registry_;
    client_options.retry_backoff = milliseconds(5);
    auto client = HttpClient::Create(*config, client_options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  Client& client() { return *client_; }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  metrics::Registry registry_;
  std::unique_ptr<testapi::TestApiServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(IntegrationTest, CrudAndErrors) {
  StatusOr<Json> created = client().Create(PodsResource(), "default", Pod("a", {{"app", "x"}}));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_TRUE(client().Create(PodsResource(), "default", Pod("a")).IsAlreadyExists());
  EXPECT_TRUE(client().Get(PodsResource(), "default", "nope").IsNotFound());

  Json stale = created.value();
  Json update = created.value();
  update["metadata"]["labels"]["v"] = "2";
  ASSERT_TRUE(client().Update(PodsResource(), "default", update).ok());
  StatusOr<Json> conflict = client().Update(PodsResource(), "default", stale);
  EXPECT_TRUE(conflict.IsConflict()) << conflict.status().ToString();
  EXPECT_EQ(ApiStatusOf(conflict).reason, "Conflict");

  Json bad = Pod("Bad_Name");
  bad["spec"]["containers"] = Json::array();
  StatusOr<Json> invalid = client().Create(PodsResource(), "default", bad);
  EXPECT_EQ(invalid.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiStatusOf(invalid).http_code, 422);
  EXPECT_GE(ApiStatusOf(invalid).causes.size(), 2u);

  StatusOr<Json> status = client().Patch(PodsResource(), "default", "a", PatchType::kMerge,
                                          {{"status", {{"phase", "Running"}}}}, "status");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["status"]["phase"], "Running");
  StatusOr<Json> strategic = client().Patch(PodsResource(), "default", "a",
                                             PatchType::kStrategicMerge,
                                             {{"metadata", {{"labels", {{"s", "1"}}}}}});
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  EXPECT_EQ((*strategic)["metadata"]["labels"]["app"], "x");

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client().Create(PodsResource(), "default", Pod("p" + std::to_string(i), {{"app", "y"}})).ok());
  }
  ListOptions selected;
  selected.label_selector = "app=y";
  selected.limit = 2;
  StatusOr<Json> all = client().ListAll(PodsResource(), "default", selected);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["items"].size(), 5u);
  EXPECT_EQ(server_->CountRequests("list", "pods"), 3);

  DeleteOptions wrong;
  wrong.precondition_uid = "not-the-uid";
  EXPECT_TRUE(client().Delete(PodsResource(), "default", "a", wrong).IsConflict());
  DeleteOptions right;
  right.precondition_uid = (*created)["metadata"]["uid"].get<std::string>();
  EXPECT_TRUE(client().Delete(PodsResource(), "default", "a", right).ok());
  EXPECT_TRUE(client().Get(PodsResource(), "default", "a").IsNotFound());
}

TEST_F(IntegrationTest, RetriesTooManyRequestsAndCountsThem) {
  server_->FailNextRequests({/*count=*/2, /*retry_after_seconds=*/0, "create", "pods"});
  StatusOr<Json> created = client().Create(PodsResource(), "default", Pod("retry"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto& requests = registry_.AddCounter("ringleader_api_requests_total", "", {"verb", "code"});
  EXPECT_EQ(requests.WithLabels({"create", "429"}).Value(), 2);
  EXPECT_EQ(requests.WithLabels({"create", "201"}).Value(), 1);
  server_->ConflictNextUpdates({1, "pods", ""});
  StatusOr<Json> patched = client().Patch(PodsResource(), "default", "retry", PatchType::kMerge,
                                           {{"metadata", {{"labels", {{"a", "b"}}}}}});
  EXPECT_TRUE(patched.IsConflict());
}

TEST_F(IntegrationTest, WatchBookmarksAndExpiry) {
  StatusOr<Json> list = client().List(PodsResource(), "default");
  ASSERT_TRUE(list.ok());
  std::string rv = (*list)["metadata"]["resourceVersion"];
  ASSERT_TRUE(client().Create(PodsResource(), "default", Pod("w")).ok());
  std::vector<WatchEventType> seen;
  WatchOptions options;
  options.resource_version = rv;
  Status status = client().Watch(PodsResource(), "default", options, [&](WatchEvent&& e) {
    seen.push_back(e.type);
    return e.type != WatchEventType::kBookmark;  // stop at the first bookmark
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], WatchEventType::kAdded);
  EXPECT_EQ(seen[1], WatchEventType::kBookmark);

  server_->ExpireNextWatches(1);
  seen.clear();
  status = client().Watch(PodsResource(), "default", options, [&](WatchEvent&& e) {
    seen.push_back(e.type);
    return true;
  });
  EXPECT_EQ(status.code(), StatusCode::kGone) << status.ToString();
  EXPECT_EQ(seen, std::vector<WatchEventType>{WatchEventType::kError});
}

TEST_F(IntegrationTest, InformerSurvivesDropsExpiryAndRestart) {
  ASSERT_TRUE(client().Create(PodsResource(), "default", Pod("i0")).ok());
  InformerOptions options;
  options.gvr = PodsResource();
  options.ns = "default";
  options.min_backoff = milliseconds(5);
  options.max_backoff = milliseconds(50);
  Informer informer(client(), options);
  std::mutex mu;
  std::set<std::string> deleted;
  EventHandlers handlers;
  handlers.on_delete = [&](const ObjectPtr& o) {
    std::lock_guard<std::mutex> lock(mu);
    deleted.insert(ObjectKeyOf(*o));
  };
  informer.AddEventHandlers(handlers);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(15)));
  EXPECT_TRUE(informer.cache().Get("default", "i0"));

  server_->DropAllWatches();
  ASSERT_TRUE(client().Create(PodsResource(), "default", Pod("i1")).ok());
  ASSERT_TRUE(Eventually([&] { return informer.cache().Get("default", "i1") != nullptr; }));
  EXPECT_EQ(informer.ListCount(), 1) << "a dropped watch resumes without relisting";

  server_->ExpireNextWatches(1);
  server_->DropAllWatches();
  ASSERT_TRUE(Eventually([&] { return informer.ListCount() >= 2; }));
  ASSERT_TRUE(client().Delete(PodsResource(), "default", "i0").ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return deleted.count("default/i0") > 0;
  }));

  server_->Restart();
  ASSERT_TRUE(client().Create(PodsResource(), "default", Pod("i2")).ok());
  ASSERT_TRUE(Eventually([&] { return informer.cache().Get("default", "i2") != nullptr; }));
  EXPECT_EQ(informer.cache().Size(), 2u);
  informer.Stop();
}

TEST_F(IntegrationTest, BookmarksAdvanceTheInformersResourceVersion) {
  InformerOptions options;
  options.gvr = PodsResource();
  options.ns = "default";
  Informer informer(client(), options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(15)));
  // A write to another resource moves the global resourceVersion; no pod event follows, so
  // only a BOOKMARK can carry the informer's resume point past it.
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "unrelated"}}},
                {"spec", {{"holderIdentity", "x"}}}};
  StatusOr<Json> created = client().Create(LeasesResource(), "default", lease);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const long long lease_rv = std::stoll((*created)["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_TRUE(Eventually([&] {
    std::string rv = informer.LastResourceVersion();
    return !rv.empty() && std::stoll(rv) >= lease_rv;
  }));
  EXPECT_EQ(informer.cache().Size(), 0u);
  informer.Stop();
}

TEST_F(IntegrationTest, LeaderElectionTakeoverAfterExpiry) {
  auto config_for = [](const std::string& id, bool release) {
    LeaderElectionConfig config;
    config.lease_namespace = "default";
    config.identity = id;
    config.lease_duration = milliseconds(900);
    config.renew_deadline = milliseconds(600);
    config.retry_period = milliseconds(100);
    config.release_on_cancel = release;
    return config;
  };
  LeaderElector a(client(), config_for("a", /*release=*/false));
  LeaderElector b(client(), config_for("b", true));
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.IsLeader(); }));
  b.Start();
  ASSERT_TRUE(Eventually([&] { return b.CurrentLeader() == "a"; }));
  EXPECT_FALSE(b.IsLeader());
  a.Stop();  // without release: b must wait for expiry
  ASSERT_TRUE(Eventually([&] { return b.IsLeader(); }));
  StatusOr<Json> lease = client().Get(LeasesResource(), "default", "ringleader-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  b.Stop();
  lease = client().Get(LeasesResource(), "default", "ringleader-operator");
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "");
}

// A hung API server (every response delayed far beyond renew_deadline) makes the leader step
// down within renew_deadline (+ retry period), and Run() itself returns soon after: each
// renewal is bounded by the renew deadline instead of the client's 30 s request timeout and
// retries. Meanwhile the lease is not renewed, so a standby could take over after expiry.
TEST_F(IntegrationTest, LeaderStepsDownWhenTheServerHangs) {
  LeaderElectionConfig config;
  config.lease_namespace = "default";
  config.identity = "a";
  config.lease_duration = milliseconds(1500);
  config.renew_deadline = milliseconds(1000);
  config.retry_period = milliseconds(200);
  std::atomic<int> stopped{0};
  config.on_stopped_leading = [&] { ++stopped; };
  LeaderElector elector(client(), config);
  std::stop_source stop;
  Status result;
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    result = elector.Run(stop.get_token());
    returned = true;
  });
  ASSERT_TRUE(Eventually([&] { return elector.IsLeader(); }));
  // Wait for one more successful renewal so the hang starts from a known point.
  size_t renewals = server_->Requests().size();
  ASSERT_TRUE(Eventually([&] { return server_->Requests().size() >= renewals + 2; }));
  auto hung_at = Clock::now();
  server_->SetResponseDelay(milliseconds(4000));
  ASSERT_TRUE(Eventually([&] { return !elector.IsLeader(); }));
  auto stepped_down_after = Clock::now() - hung_at;
  EXPECT_LE(stepped_down_after, config.renew_deadline + config.retry_period + milliseconds(300));
  ASSERT_TRUE(Eventually([&] { return returned.load(); }));
  auto returned_after = Clock::now() - hung_at;
  EXPECT_EQ(result.code(), StatusCode::kAborted) << result.ToString();
  EXPECT_EQ(stopped.load(), 1);
  // Sooner than the 4 s delay (or the client's 30 s timeout): the renewal was cut off.
  EXPECT_LE(returned_after, config.renew_deadline + config.retry_period + milliseconds(1000));
  runner.join();
  server_->SetResponseDelay(milliseconds(0));
}

TEST_F(IntegrationTest, EventsAreDeduplicated) {
  Json pod = client().Create(PodsResource(), "default", Pod("ev")).value();
  EventRecorder recorder(client());
  for (int i = 0; i < 3; ++i) recorder.Record(pod, kEventTypeWarning, "Backoff", "restarting");
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(15)));
  StatusOr<Json> events = client().List(EventsResource(), "default");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ((*events)["items"].size(), 1u);
  EXPECT_EQ((*events)["items"][0]["count"], 3);
  EXPECT_EQ((*events)["items"][0]["involvedObject"]["name"], "ev");
  EXPECT_EQ(recorder.failed(), 0u);
}

}  // namespace
}  // namespace ringleader::kube
