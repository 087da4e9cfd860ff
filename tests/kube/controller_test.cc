#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <set>
#include <stdexcept>

#include "ringleader/api/resources.h"
#include "ringleader/common/metrics.h"
#include "ringleader/kube/controller.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Plays back scripted results per key and records calls.
class ScriptedReconciler : public Reconciler {
 public:
  using Step = std::function<ReconcileResult()>;
  void Script(const std::string& key, std::vector<Step> steps) {
    std::lock_guard<std::mutex> lock(mu_);
    scripts_[key] = std::move(steps);
  }
  ReconcileResult Reconcile(const std::string& key) override {
    Step step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!in_progress_.insert(key).second) overlap_ = true;
      auto& script = scripts_[key];
      size_t n = calls_[key]++;
      if (n < script.size()) step = script[n];
    }
    ReconcileResult result = step ? step() : ReconcileResult::Done();
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_progress_.erase(key);
      cv_.notify_all();
    }
    return result;
  }
  bool WaitForCalls(const std::string& key, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, Clock::now() + seconds(10),
                          [&] { return calls_[key] >= static_cast<size_t>(n) && !in_progress_.count(key); });
  }
  size_t Calls(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[key];
  }
  bool overlap() const { return overlap_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<Step>> scripts_;
  std::map<std::string, size_t> calls_;
  std::set<std::string> in_progress_;
  std::atomic<bool> overlap_{false};
};

ControllerOptions FastOptions(metrics::Registry* registry, int workers = 2) {
  ControllerOptions options;
  options.name = "test";
  options.workers = workers;
  options.registry = registry;
  options.rate_limiter =
      std::make_unique<ItemExponentialFailureRateLimiter>(milliseconds(1), milliseconds(10));
  return options;
}

double Reconciles(metrics::Registry& registry, const std::string& result) {
  return registry.AddCounter("ringleader_reconcile_total", "", {"controller", "result"})
      .WithLabels({"test", result})
      .Value();
}

TEST(ControllerTest, ResultsDriveTheQueue) {
  metrics::Registry registry;
  ScriptedReconciler reconciler;
  reconciler.Script("ns/error", {[] { return ReconcileResult::Error(UnavailableError("x")); },
                                 [] { return ReconcileResult::Error(UnavailableError("x")); },
                                 [] { return ReconcileResult::Done(); }});
  reconciler.Script("ns/after", {[] { return ReconcileResult::RequeueAfter(milliseconds(5)); },
                                 [] { return ReconcileResult::Done(); }});
  reconciler.Script("ns/requeue", {[] { return ReconcileResult::Requeue(); },
                                   [] { return ReconcileResult::Done(); }});
  reconciler.Script("ns/panic", {[]() -> ReconcileResult { throw std::runtime_error("boom"); },
                                 [] { return ReconcileResult::Done(); }});
  Controller controller(reconciler, FastOptions(&registry));
  controller.Start();
  for (const char* key : {"ns/error", "ns/after", "ns/requeue", "ns/panic", "ns/done"}) {
    controller.Enqueue(key);
  }
  EXPECT_TRUE(reconciler.WaitForCalls("ns/error", 3));
  EXPECT_TRUE(reconciler.WaitForCalls("ns/after", 2));
  EXPECT_TRUE(reconciler.WaitForCalls("ns/requeue", 2));
  EXPECT_TRUE(reconciler.WaitForCalls("ns/panic", 2));
  EXPECT_TRUE(reconciler.WaitForCalls("ns/done", 1));
  controller.Stop();
  // Success resets the backoff.
  EXPECT_EQ(controller.queue().NumRequeues("ns/error"), 0);
  EXPECT_EQ(Reconciles(registry, "error"), 2);
  EXPECT_EQ(Reconciles(registry, "panic"), 1);
  EXPECT_EQ(Reconciles(registry, "requeue_after"), 1);
  EXPECT_EQ(Reconciles(registry, "requeue"), 1);
  EXPECT_EQ(Reconciles(registry, "success"), 5);
  EXPECT_EQ(reconciler.Calls("ns/done"), 1u);
  EXPECT_EQ(controller.ReconcileCount(), 10u);
  std::string text = registry.Render();
  EXPECT_NE(text.find("ringleader_reconcile_duration_seconds_count{controller=\"test\"} 10"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ringleader_workqueue_depth{controller=\"test\"}"), std::string::npos);
}

// ringleader_workqueue_depth counts a key from EnqueueAfter once it is due, even while every
// worker is busy (nobody has called Get() to promote it), and EnqueueAfter(0) at once.
TEST(ControllerTest, DepthGaugeCountsDueDelayedKeys) {
  metrics::Registry registry;
  ScriptedReconciler reconciler;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> blocking{false};
  reconciler.Script("ns/busy", {[&] {
                      blocking = true;
                      std::unique_lock<std::mutex> lock(mu);
                      cv.wait(lock, [&] { return release; });
                      return ReconcileResult::Done();
                    }});
  Controller controller(reconciler, FastOptions(&registry, /*workers=*/1));
  auto depth = [&] {
    return registry.AddGauge("ringleader_workqueue_depth", "", {"controller"})
        .WithLabels({"test"})
        .Value();
  };
  controller.Start();
  controller.Enqueue("ns/busy");
  auto deadline = Clock::now() + seconds(10);
  while (!blocking.load() && Clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(blocking.load());  // the only worker is busy from here on
  auto enqueued_at = Clock::now();
  controller.EnqueueAfter("ns/later", milliseconds(10));
  EXPECT_EQ(depth(), 0);  // not due yet
  while (Clock::now() - enqueued_at < milliseconds(15)) std::this_thread::yield();
  controller.EnqueueAfter("ns/now", Duration{0});
  EXPECT_EQ(depth(), 2);  // "ns/later" (due) and "ns/now"
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(reconciler.WaitForCalls("ns/later", 1));
  EXPECT_TRUE(reconciler.WaitForCalls("ns/now", 1));
  controller.Stop();
  EXPECT_EQ(depth(), 0);
}

TEST(ControllerTest, OneKeyNeverReconciledConcurrently) {
  metrics::Registry registry;
  ScriptedReconciler reconciler;
  std::vector<ScriptedReconciler::Step> slow(50, [] {
    std::this_thread::yield();
    return ReconcileResult::Done();
  });
  reconciler.Script("ns/hot", slow);
  Controller controller(reconciler, FastOptions(&registry, 4));
  controller.Start();
  for (int i = 0; i < 500; ++i) controller.Enqueue("ns/hot");
  ASSERT_TRUE(reconciler.WaitForCalls("ns/hot", 1));
  controller.Enqueue("ns/hot");
  ASSERT_TRUE(reconciler.WaitForCalls("ns/hot", 2));
  controller.Stop();
  EXPECT_FALSE(reconciler.overlap());
  EXPECT_LE(reconciler.Calls("ns/hot"), 500u);
}

TEST(ControllerTest, OwnedObjectsMapToTheirOwner) {
  Json owned = {{"metadata",
                 {{"name", "tj-worker-0"},
                  {"namespace", "team"},
                  {"ownerReferences",
                   Json::array({{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "cm"}, {"uid", "1"}},
                                {{"apiVersion", "ringleader.dev/v1alpha1"},
                                 {"kind", "TrainingJob"},
                                 {"name", "tj"},
                                 {"uid", "2"},
                                 {"controller", true}}})}}}};
  struct Case {
    std::string kind, group, want;
  };
  const std::vector<Case> cases = {
      {"TrainingJob", "ringleader.dev", "team/tj"},
      {"TrainingJob", "other.dev", ""},
      {"Deployment", "ringleader.dev", ""},
      {"ConfigMap", "", ""},  // not the controller reference
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ControllerOwnerKey(owned, c.kind, c.group), c.want) << c.kind << " " << c.group;
  }
  EXPECT_EQ(ControllerOwnerKey(Json::object(), "TrainingJob", "ringleader.dev"), "");

  Json owner = {{"apiVersion", "ringleader.dev/v1alpha1"},
                {"kind", "TrainingJob"},
                {"metadata", {{"name", "tj"}, {"uid", "u-9"}}}};
  Json ref = MakeControllerOwnerReference(owner);
  EXPECT_EQ(ref["uid"], "u-9");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_EQ(ref["blockOwnerDeletion"], true);
  EXPECT_EQ(ref["kind"], "TrainingJob");
}

TEST(ControllerTest, InformerEventsOnChildrenEnqueueTheOwner) {
  metrics::Registry registry;
  FakeClient client;
  ScriptedReconciler reconciler;
  Controller controller(reconciler, FastOptions(&registry));
  InformerOptions options;
  options.gvr = PodsResource();
  Informer pods(client, options);
  pods.AddEventHandlers(controller.HandlersForOwned("TrainingJob", "ringleader.dev"));
  InformerOptions tj_options;
  tj_options.gvr = TrainingJobsResource();
  Informer jobs(client, tj_options);
  jobs.AddEventHandlers(controller.HandlersForPrimary());
  controller.Start();
  pods.Start();
  jobs.Start();
  ASSERT_TRUE(pods.WaitForSync(Clock::now() + seconds(10)));
  ASSERT_TRUE(jobs.WaitForSync(Clock::now() + seconds(10)));
  Json job = client.Create(TrainingJobsResource(), "team",
                           {{"apiVersion", "ringleader.dev/v1alpha1"},
                            {"kind", "TrainingJob"},
                            {"metadata", {{"name", "tj"}}}})
                 .value();
  ASSERT_TRUE(reconciler.WaitForCalls("team/tj", 1));
  Json pod = {{"metadata",
               {{"name", "tj-worker-0"},
                {"ownerReferences", Json::array({MakeControllerOwnerReference(job)})}}}};
  ASSERT_TRUE(client.Create(PodsResource(), "team", pod).ok());
  ASSERT_TRUE(reconciler.WaitForCalls("team/tj", 2));
  ASSERT_TRUE(client.Delete(PodsResource(), "team", "tj-worker-0").ok());
  ASSERT_TRUE(reconciler.WaitForCalls("team/tj", 3));
  EXPECT_EQ(reconciler.Calls("team/tj-worker-0"), 0u);
  pods.Stop();
  jobs.Stop();
  controller.Stop();
}

TEST(ControllerTest, StopWithoutStartAndTwice) {
  metrics::Registry registry;
  ScriptedReconciler reconciler;
  Controller controller(reconciler, FastOptions(&registry));
  controller.Stop();
  controller.Stop();
  EXPECT_TRUE(controller.queue().ShuttingDown());
}

}  // namespace
}  // namespace ringleader::kube

namespace ringleader::kube {
namespace {

TEST(ControllerTest, ChildEventsWithinTheBatchWindowCostOneReconcileOfTheOwner) {
  metrics::Registry registry;
  ScriptedReconciler reconciler;
  ControllerOptions options = FastOptions(&registry);
  options.owned_event_batch = milliseconds(300);
  Controller controller(reconciler, std::move(options));
  EventHandlers owned = controller.HandlersForOwned("TrainingJob", "ringleader.dev");
  Json owner = {{"apiVersion", "ringleader.dev/v1alpha1"},
                {"kind", "TrainingJob"},
                {"metadata", {{"name", "tj"}, {"namespace", "team"}, {"uid", "u-1"}}}};
  auto pod = [&](int rank) {
    return std::make_shared<const Json>(Json{
        {"metadata",
         {{"name", "tj-worker-" + std::to_string(rank)},
          {"namespace", "team"},
          {"ownerReferences", Json::array({MakeControllerOwnerReference(owner)})}}}});
  };
  controller.Start();
  auto start = Clock::now();
  for (int rank = 0; rank < 8; ++rank) owned.on_add(pod(rank));  // a gang's pods appear
  owned.on_update(pod(0), pod(0));
  ASSERT_TRUE(reconciler.WaitForCalls("team/tj", 1));
  EXPECT_GE(Clock::now() - start, milliseconds(290)) << "the owner is reconciled after the window";
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(reconciler.Calls("team/tj"), 1u) << "nine events, one reconcile";
  owned.on_delete(pod(3));  // a later event starts a new window
  ASSERT_TRUE(reconciler.WaitForCalls("team/tj", 2));
  controller.Stop();
}

}  // namespace
}  // namespace ringleader::kube
