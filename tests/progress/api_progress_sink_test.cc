// ApiProgressSink against FakeClient (asserting the calls) and against the in-process test API
// server with our CRD (the patch passes the status schema and lands in status.progress).
#include "ringleader/api/resources.h"
#include "ringleader/progress/api_progress_sink.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "ringleader/kube/config.h"
#include "ringleader/testing/fake_client.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/testing/test_api_server.h"

namespace ringleader::progress {
namespace {

using kube::Json;
using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

Json Job() {
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata", {{"name", "demo"}, {"namespace", "ml"}}},
          {"spec",
           {{"workers", 1},
            {"template", {{"spec", {{"containers", Json::array({{{"name", "t"}, {"image", "i"}}})}}}}}}}};
}

ApiProgressOptions Options(std::chrono::milliseconds interval, std::vector<std::string>* logs = nullptr) {
  ApiProgressOptions o;
  o.job_namespace = "ml";
  o.job_name = "demo";
  o.min_interval = interval;
  if (logs) o.log = [logs](const std::string& line) { logs->push_back(line); };
  return o;
}

TEST(ApiProgressSinkTest, CoalescesReportsWithinTheIntervalAndAlwaysSendsTheFinalFigures) {
  kube::FakeClient client;
  ASSERT_TRUE(client.Create(kube::TrainingJobsResource(), "ml", Job()).ok());
  client.ClearActions();
  {
    ApiProgressSink sink(client, Options(1h));
    sink.Report({1, 100, 2.5, 10});
    ASSERT_TRUE(WaitFor([&] { return sink.sent() == 1; }));
    for (int step = 2; step <= 100; ++step) sink.Report({step, 100, 2.5 / step, 10});
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(sink.sent(), 1u) << "a report inside the interval waits";
    sink.Finish(100, 0.025, "abcd");
    ASSERT_TRUE(WaitFor([&] { return sink.sent() == 2; }));
  }
  auto patches = client.ActionsFor("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].subresource, "status");
  EXPECT_EQ(patches[0].body["status"]["progress"]["step"], 1);
  EXPECT_EQ(patches[1].body["status"]["progress"]["step"], 100);
  EXPECT_DOUBLE_EQ(patches[1].body["status"]["progress"]["loss"].get<double>(), 0.025);
  EXPECT_EQ(patches[1].body["status"].size(), 1u) << "touches nothing but progress";
  auto job = client.Get(kube::TrainingJobsResource(), "ml", "demo");
  EXPECT_EQ((*job)["status"]["progress"]["step"], 100);
  EXPECT_TRUE((*job)["status"]["progress"].contains("updatedAt"));
}

// A process restarted in place reports its attempt and in-place restart count at once (before
// any step, without updatedAt, which moves only with a step), then with every report.
TEST(ApiProgressSinkTest, InPlaceRestartsAreReportedAtStartAndWithEveryReport) {
  kube::FakeClient client;
  ASSERT_TRUE(client.Create(kube::TrainingJobsResource(), "ml", Job()).ok());
  client.ClearActions();
  {
    ApiProgressOptions options = Options(1ms);
    options.attempt = 2;
    options.in_place_restarts = 3;
    ApiProgressSink sink(client, options);
    ASSERT_TRUE(WaitFor([&] { return sink.sent() == 1; }));
    sink.Report({7, 100, 1.5, 2.0});
    ASSERT_TRUE(WaitFor([&] { return sink.sent() == 2; }));
  }
  auto patches = client.ActionsFor("patch");
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0].body["status"]["progress"], Json({{"attempt", 2}, {"inPlaceRestarts", 3}}));
  const Json& second = patches[1].body["status"]["progress"];
  EXPECT_EQ(second["step"], 7);
  EXPECT_EQ(second["attempt"], 2);
  EXPECT_EQ(second["inPlaceRestarts"], 3);
  EXPECT_TRUE(second.contains("updatedAt"));
}

TEST(ApiProgressSinkTest, ForbiddenDisablesReportingWithOneLineNamingTheClusterRole) {
  kube::FakeClient client;
  kube::ApiStatus forbidden;
  forbidden.http_code = 403;
  forbidden.reason = "Forbidden";
  client.InjectError("patch", "", forbidden, 100);
  std::vector<std::string> logs;
  {
    ApiProgressSink sink(client, Options(0ms, &logs));
    sink.Report({1, 10, 1.0, 1});
    ASSERT_TRUE(WaitFor([&] { return sink.disabled(); }));
    for (int i = 0; i < 10; ++i) sink.Report({i, 10, 1.0, 1});
    sink.Finish(10, 0.5, "x");
  }
  EXPECT_EQ(client.ActionsFor("patch").size(), 1u);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("ringleader-progress-reporter"), std::string::npos) << logs[0];
}

TEST(ApiProgressSinkTest, TransientErrorsAreLoggedOnceAndReportingGoesOn) {
  kube::FakeClient client;
  ASSERT_TRUE(client.Create(kube::TrainingJobsResource(), "ml", Job()).ok());
  kube::ApiStatus unavailable;
  unavailable.http_code = 503;
  client.InjectError("patch", "", unavailable, 2);
  std::vector<std::string> logs;
  ApiProgressSink sink(client, Options(0ms, &logs));
  for (int step = 1; step <= 3; ++step) {
    sink.Report({step, 3, 1.0, 1});
    ASSERT_TRUE(WaitFor([&] { return sink.sent() + sink.failed() == static_cast<uint64_t>(step); }));
  }
  EXPECT_EQ(sink.failed(), 2u);
  EXPECT_EQ(sink.sent(), 1u);
  EXPECT_FALSE(sink.disabled());
  EXPECT_EQ(logs.size(), 1u);
}

TEST(ApiProgressSinkTest, OnlyRankZeroWithCredentialsReports) {
  runtime::WorkerEnv env;
  env.job_name = "demo";
  env.job_namespace = "ml";
  env.rank = 1;
  setenv("RINGLEADER_PROGRESS_KUBECONFIG", "/nonexistent", 1);
  EXPECT_EQ(MakeApiProgressSinkFromEnvironment(env), nullptr) << "rank 1 never reports";
  env.rank = 0;
  EXPECT_EQ(MakeApiProgressSinkFromEnvironment(env), nullptr) << "unreadable kubeconfig: no sink";
  unsetenv("RINGLEADER_PROGRESS_KUBECONFIG");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(MakeApiProgressSinkFromEnvironment(env), nullptr) << "no cluster: nothing to report to";
}

TEST(ApiProgressSinkIntegrationTest, PatchPassesTheCrdStatusSchema) {
  auto dir = std::filesystem::temp_directory_path() / ("progress-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  testapi::TestApiServerOptions options;
  options.kubeconfig_out = (dir / "kubeconfig").string();
  options.crd_files = {std::string(RINGLEADER_SOURCE_DIR) + "/crds/ringleader.dev_trainingjobs.yaml"};
  testapi::TestApiServer server(options);
  ASSERT_TRUE(server.Start().ok());
  kube::KubeconfigOptions kc;
  kc.path = options.kubeconfig_out;
  auto config = kube::LoadKubeconfig(kc);
  ASSERT_TRUE(config.ok());
  auto client = kube::HttpClient::Create(*config);
  ASSERT_TRUE(client.ok());
  Json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}}};
  (*client)->Create(kube::NamespacesResource(), "", ns);
  auto created = (*client)->Create(kube::TrainingJobsResource(), "ml", Job());
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  runtime::WorkerEnv env;
  env.job_name = "demo";
  env.job_namespace = "ml";
  env.rank = 0;
  env.attempt = 1;
  env.in_place_restarts = 2;
  setenv("RINGLEADER_PROGRESS_KUBECONFIG", options.kubeconfig_out.c_str(), 1);
  {
    auto sink = MakeApiProgressSinkFromEnvironment(env);
    ASSERT_NE(sink, nullptr);
    sink->Report({5, 10, 0.75, 1234.5});
    sink->Finish(10, 0.5, "feed");
  }  // the destructor flushes the final figures
  unsetenv("RINGLEADER_PROGRESS_KUBECONFIG");
  auto job = (*client)->Get(kube::TrainingJobsResource(), "ml", "demo");
  ASSERT_TRUE(job.ok());
  const Json& progress = (*job)["status"]["progress"];
  EXPECT_EQ(progress["step"], 10);
  EXPECT_DOUBLE_EQ(progress["loss"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(progress["samplesPerSecond"].get<double>(), 1234.5);
  EXPECT_EQ(progress["attempt"], 1);
  EXPECT_EQ(progress["inPlaceRestarts"], 2);
  server.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringleader::progress
