#include "ringleader/kube/leader_election.h"

#include <gtest/gtest.h>

#include <thread>

#include "blocking_client.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Candidate {
  Candidate(Client& client, const std::string& id, bool release_on_cancel = true) {
    config.lease_namespace = "ringleader-system";
    config.lease_name = "ringleader-operator";
    config.identity = id;
    // Fast timings (same ratios as 15 s / 10 s / 2 s).
    config.lease_duration = milliseconds(750);
    config.renew_deadline = milliseconds(500);
    config.retry_period = milliseconds(100);
    config.release_on_cancel = release_on_cancel;
    config.on_started_leading = [this] { ++started; };
    config.on_stopped_leading = [this] { ++stopped; };
    elector = std::make_unique<LeaderElector>(client, config);
  }
  LeaderElectionConfig config;
  std::atomic<int> started{0}, stopped{0};
  std::unique_ptr<LeaderElector> elector;
};

template <typename Pred>
bool WaitUntil(Pred pred, Clock::duration timeout = seconds(10)) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));  // polling a condition, not sleeping for it
  }
  return true;
}

// Runs a candidate's blocking Run on its own thread; Result() waits for Run to return.
class Leading {
 public:
  explicit Leading(Candidate& candidate)
      : runner_([this, &candidate] { result_ = candidate.elector->Run(stop_.get_token()); }) {}
  ~Leading() {
    stop_.request_stop();
    if (runner_.joinable()) runner_.join();
  }
  Status Result() {
    runner_.join();
    return result_;
  }

 private:
  std::stop_source stop_;
  Status result_;
  std::thread runner_;
};

Json Lease(FakeClient& client) {
  return client.Get(LeasesResource(), "ringleader-system", "ringleader-operator").value();
}

TEST(LeaderElectionTest, TwoCandidatesOneLeader) {
  FakeClient client;
  Candidate a(client, "a"), b(client, "b");
  a.elector->Start();
  b.elector->Start();
  ASSERT_TRUE(WaitUntil([&] { return a.elector->IsLeader() || b.elector->IsLeader(); }));
  Candidate& leader = a.elector->IsLeader() ? a : b;
  Candidate& follower = a.elector->IsLeader() ? b : a;
  // Let the follower observe the holder and keep retrying for more than a lease duration.
  size_t updates_before = client.ActionsFor("update", "leases.coordination.k8s.io").size();
  ASSERT_TRUE(WaitUntil([&] {
    return follower.elector->CurrentLeader() == leader.config.identity &&
           client.ActionsFor("update", "leases.coordination.k8s.io").size() > updates_before + 8;
  }));
  EXPECT_TRUE(leader.elector->IsLeader());
  EXPECT_FALSE(follower.elector->IsLeader());
  EXPECT_EQ(follower.started.load(), 0);
  EXPECT_EQ(Lease(client)["spec"]["holderIdentity"], leader.config.identity);
  EXPECT_EQ(Lease(client)["spec"]["leaseDurationSeconds"], 1);

  // A clean shutdown releases the lease and the follower takes over.
  leader.elector->Stop();
  EXPECT_EQ(leader.stopped.load(), 1);
  ASSERT_TRUE(WaitUntil([&] { return follower.elector->IsLeader(); }));
  EXPECT_EQ(Lease(client)["spec"]["holderIdentity"], follower.config.identity);
  EXPECT_EQ(Lease(client)["spec"]["leaseTransitions"], 1);
  follower.elector->Stop();
  EXPECT_EQ(follower.started.load(), 1);
  EXPECT_EQ(follower.stopped.load(), 1);
}

TEST(LeaderElectionTest, TakeoverAfterExpiry) {
  FakeClient client;
  Candidate crashed(client, "crashed", /*release_on_cancel=*/false);
  crashed.elector->Start();
  ASSERT_TRUE(WaitUntil([&] { return crashed.elector->IsLeader(); }));
  std::string renew_time = Lease(client)["spec"]["renewTime"];
  crashed.elector->Stop();  // no release: like a crashed process
  EXPECT_EQ(Lease(client)["spec"]["holderIdentity"], "crashed");

  Candidate successor(client, "successor");
  std::vector<std::string> observed;
  successor.config.on_new_leader = [&](const std::string& id) { observed.push_back(id); };
  successor.elector = std::make_unique<LeaderElector>(client, successor.config);
  auto started_at = Clock::now();
  successor.elector->Start();
  ASSERT_TRUE(WaitUntil([&] { return successor.elector->IsLeader(); }));
  // It had to wait for the lease to expire on its own clock.
  EXPECT_GE(Clock::now() - started_at, successor.config.lease_duration);
  Json lease = Lease(client);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "successor");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  EXPECT_NE(lease["spec"]["renewTime"], renew_time);
  successor.elector->Stop();
  ASSERT_FALSE(observed.empty());
  EXPECT_EQ(observed.front(), "crashed");
}

TEST(LeaderElectionTest, LosingTheLeaseStopsLeading) {
  FakeClient client;
  Candidate a(client, "a");
  Leading leading(a);
  ASSERT_TRUE(WaitUntil([&] { return a.elector->IsLeader(); }));
  // Someone else grabs the lease behind our back (e.g. after a long GC pause on our side).
  Json lease = Lease(client);
  lease["spec"]["holderIdentity"] = "intruder";
  ASSERT_TRUE(client.Update(LeasesResource(), "ringleader-system", lease).ok());
  Status result = leading.Result();  // Run returns by itself once renewals fail for renew_deadline
  EXPECT_EQ(result.code(), StatusCode::kAborted) << result.ToString();
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.started.load(), 1);
  EXPECT_EQ(a.stopped.load(), 1);
  EXPECT_EQ(a.elector->CurrentLeader(), "intruder");
}

TEST(LeaderElectionTest, ApiErrorsDuringRenewLoseLeadership) {
  FakeClient client;
  Candidate a(client, "a");
  Leading leading(a);
  ASSERT_TRUE(WaitUntil([&] { return a.elector->IsLeader(); }));
  ApiStatus down;
  down.http_code = 503;
  client.InjectError("get", "leases.coordination.k8s.io", down, 1000);
  Status result = leading.Result();
  EXPECT_EQ(result.code(), StatusCode::kAborted);
  EXPECT_EQ(a.stopped.load(), 1);
}

// A renewal that hangs (a Client that ignores request deadlines, here blocked for good)
// must not keep us leader: IsLeader() turns false and on_stopped_leading runs once
// renew_deadline has passed since the last renewal, while the renewal is still blocked.
TEST(LeaderElectionTest, HungRenewalStillStepsDownAtRenewDeadline) {
  FakeClient fake;
  testing::BlockingClient client(fake, "get", /*armed=*/false);
  Candidate a(client, "a");
  std::atomic<int64_t> stopped_at{0};
  a.config.on_stopped_leading = [&] {
    stopped_at = Clock::now().time_since_epoch().count();
    ++a.stopped;
  };
  a.elector = std::make_unique<LeaderElector>(client, a.config);
  Leading leading(a);
  ASSERT_TRUE(WaitUntil([&] { return a.elector->IsLeader(); }));
  // The last renewal that can succeed starts before this; every later one hangs.
  size_t updates = fake.ActionsFor("update", "leases.coordination.k8s.io").size();
  ASSERT_TRUE(WaitUntil(
      [&] { return fake.ActionsFor("update", "leases.coordination.k8s.io").size() > updates; }));
  client.Arm();
  auto armed_at = Clock::now();
  ASSERT_TRUE(client.WaitBlocked());
  ASSERT_TRUE(WaitUntil([&] { return !a.elector->IsLeader(); }));
  auto stepped_down_after = Clock::now() - armed_at;
  ASSERT_TRUE(WaitUntil([&] { return a.stopped.load() == 1; }));
  // At most renew_deadline after the last renewal (which began before `armed_at`), plus the
  // retry period of slack; the renewal is still blocked.
  EXPECT_LE(stepped_down_after,
            a.config.renew_deadline + a.config.retry_period + milliseconds(200));
  EXPECT_EQ(client.blocked(), 1);
  EXPECT_LE(Clock::time_point(Clock::duration(stopped_at.load())) - armed_at,
            a.config.renew_deadline + a.config.retry_period + milliseconds(200));
  client.Release();
  Status result = leading.Result();
  EXPECT_EQ(result.code(), StatusCode::kAborted) << result.ToString();
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.started.load(), 1);
  EXPECT_EQ(a.stopped.load(), 1);  // once, not again when the renewal came back
}

TEST(LeaderElectionTest, DefaultTimingsAreClientGos) {
  LeaderElectionConfig config;
  EXPECT_EQ(config.lease_duration, seconds(15));
  EXPECT_EQ(config.renew_deadline, seconds(10));
  EXPECT_EQ(config.retry_period, seconds(2));
  EXPECT_EQ(config.lease_name, "ringleader-operator");
  EXPECT_TRUE(config.release_on_cancel);
}

TEST(LeaderElectionTest, InvalidConfig) {
  FakeClient client;
  LeaderElectionConfig config;
  config.lease_namespace = "ns";
  LeaderElector no_identity(client, config);
  EXPECT_EQ(no_identity.Run({}).code(), StatusCode::kInvalidArgument);
  config.identity = "me";
  config.renew_deadline = config.lease_duration;
  LeaderElector bad_timing(client, config);
  EXPECT_EQ(bad_timing.Run({}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client.Actions().empty());
}

}  // namespace
}  // namespace ringleader::kube
