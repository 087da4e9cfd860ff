// Gang semantics of local mode, driven through Supervise with /bin/sh workers.
#include "ringleader/local/supervisor.h"

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "local_test_util.h"

namespace ringleader::local {
namespace {

using nlohmann::json;
using testing::FastOptions;
using testing::MakePlan;
using testing::ReadFile;
using testing::RecordingObserver;
using testing::ShellJob;
using testing::TempDir;

RunResult RunJob(const json& job, const std::string& run_dir, RecordingObserver* observer = nullptr) {
  RecordingObserver local_observer;
  StopRequest stop;
  const LocalPlan plan = MakePlan(job);
  return Supervise(plan, FastOptions(run_dir), observer != nullptr ? *observer : local_observer, stop);
}

TEST(SupervisorTest, SuccessRunsEveryWorkerWithTheEnvAndKeepsLogs) {
  TempDir tmp;
  const std::string script =
      "echo \"rank=$RANK world=$WORLD_SIZE attempt=$RINGLEADER_ATTEMPT master=$MASTER_ADDR:$MASTER_PORT\"\n"
      "echo 'step=1 total_steps=2 loss=2.5 samples_per_second=100'\n"
      "echo 'step=2 total_steps=2 loss=0.5 samples_per_second=100'\n"
      "echo to-stderr >&2\n"
      "echo 'final step=2 loss=0.5 checksum=c0ffee'\n";
  RecordingObserver observer;
  RunResult result = RunJob(ShellJob(3, script), tmp.path(), &observer);
  EXPECT_EQ(result.phase, api::JobPhase::kSucceeded) << result.message;
  EXPECT_EQ(result.reason, "Succeeded");
  EXPECT_EQ(ExitCodeFor(result), 0);
  EXPECT_EQ(result.view.restarts, 0);
  ASSERT_EQ(result.view.workers.size(), 3u);
  for (const WorkerView& r : result.view.workers) {
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.finished);
    EXPECT_EQ(r.checksum, "c0ffee");
    EXPECT_EQ(r.first_loss, 2.5);
    EXPECT_EQ(r.loss, 0.5);
    EXPECT_EQ(r.total_steps, 2);
    const std::string log = ReadFile(tmp.path() + "/attempt-0/worker-" + std::to_string(r.worker) + ".log");
    EXPECT_EQ(log.rfind("rank=" + std::to_string(r.worker) + " world=3 attempt=0 master=127.0.0.1:", 0), 0u) << log;
    EXPECT_NE(log.find("\nto-stderr\n"), std::string::npos) << log;
    EXPECT_NE(log.find("final step=2 loss=0.5 checksum=c0ffee\n"), std::string::npos) << log;
  }
  EXPECT_EQ(observer.lines.size(), 15u);
  ASSERT_GE(observer.phases.size(), 2u);
  EXPECT_EQ(observer.phases.front(), api::JobPhase::kRunning);
  EXPECT_EQ(observer.phases.back(), api::JobPhase::kSucceeded);
}

// Rank 1 fails in attempt 0 (a marker file remembers it) while the others would run for a
// long time: the gang is torn down and restarted, and attempt 1 sees RINGLEADER_ATTEMPT=1.
TEST(SupervisorTest, FailsOnceThenSucceedsWithTheAttemptIncremented) {
  TempDir tmp;
  const std::string marker = tmp.path() + "/failed-once";
  // Rank 1 fails only once ranks 0 and 2 have printed their line (they touch a file after
  // it), so every attempt-0 log is complete whatever the scheduling.
  const std::string started = tmp.path() + "/started-$RINGLEADER_ATTEMPT-$RANK";
  const std::string script =
      "echo attempt=$RINGLEADER_ATTEMPT\n"
      "touch " + started + "\n"
      "if [ \"$RINGLEADER_ATTEMPT\" = 0 ]; then\n"
      "  if [ \"$RANK\" = 1 ]; then\n"
      "    while [ ! -e " + tmp.path() + "/started-0-0 ] || [ ! -e " + tmp.path() + "/started-0-2 ]; do sleep 0.01; done\n"
      "    touch " + marker + "; exit 3\n"
      "  fi\n"
      "  exec sleep 60\n"
      "fi\n";
  RecordingObserver observer;
  RunResult result = RunJob(ShellJob(3, script, {{"backoffLimit", 2}, {"activeDeadlineSeconds", 60}}), tmp.path() + "/run", &observer);
  EXPECT_EQ(result.phase, api::JobPhase::kSucceeded) << result.message;
  EXPECT_EQ(result.view.restarts, 1);
  EXPECT_EQ(result.view.attempt, 1);
  EXPECT_TRUE(std::filesystem::exists(marker));
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(ReadFile(tmp.path() + "/run/attempt-0/worker-" + std::to_string(rank) + ".log"), "attempt=0\n");
    EXPECT_EQ(ReadFile(tmp.path() + "/run/attempt-1/worker-" + std::to_string(rank) + ".log"), "attempt=1\n");
  }
  EXPECT_NE(std::find(observer.phases.begin(), observer.phases.end(), api::JobPhase::kRestarting),
            observer.phases.end());
}

struct FailureCase {
  const char* name;
  json run_policy;
  std::string failing_script;  // what rank 2 runs; the others sleep
  std::string reason;
  int64_t restarts;
  std::string message_part;
};

class SupervisorFailureTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(SupervisorFailureTest, EndsFailedWithTheReason) {
  const FailureCase& c = GetParam();
  TempDir tmp;
  const std::string script = "if [ \"$RANK\" = 2 ]; then " + c.failing_script + "; fi\nexec sleep 60\n";
  RunResult result = RunJob(ShellJob(3, script, c.run_policy), tmp.path());
  EXPECT_EQ(result.phase, api::JobPhase::kFailed);
  EXPECT_EQ(result.reason, c.reason) << result.message;
  EXPECT_EQ(result.view.restarts, c.restarts);
  EXPECT_EQ(ExitCodeFor(result), 1);
  EXPECT_NE(result.message.find(c.message_part), std::string::npos) << result.message;
  EXPECT_TRUE(std::filesystem::exists(tmp.path() + "/attempt-" + std::to_string(c.restarts)));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/attempt-" + std::to_string(c.restarts + 1)));
  // The rest of the gang was stopped, not left running.
  for (const WorkerView& r : result.view.workers) EXPECT_FALSE(r.running);
  EXPECT_EQ(result.view.workers[0].exit_code, 128 + SIGTERM);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SupervisorFailureTest,
    ::testing::Values(
        FailureCase{"AlwaysFailsUntilBackoffLimit", {{"backoffLimit", 2}}, "exit 3", "BackoffLimitExceeded", 2,
                    "worker 2 exited with code 3; backoffLimit 2 reached after 2 restarts"},
        FailureCase{"ExitCodePolicyCode1IsPermanent", {{"backoffLimit", 3}, {"restartPolicy", "ExitCode"}}, "exit 1",
                    "PermanentExitCode", 0, "worker 2 exited with code 1"},
        FailureCase{"ExitCodePolicySignalIsRetried", {{"backoffLimit", 1}, {"restartPolicy", "ExitCode"}},
                    "kill -9 $$", "BackoffLimitExceeded", 1, "worker 2 exited with code 137"},
        FailureCase{"NeverRestarts", {{"backoffLimit", 3}, {"restartPolicy", "Never"}}, "exit 5",
                    "RestartPolicyNever", 0, "worker 2 exited with code 5"},
        FailureCase{"BackoffLimitZeroFailsAtOnce", {{"backoffLimit", 0}}, "exit 4", "BackoffLimitExceeded", 0,
                    "worker 2 exited with code 4"}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return std::string(info.param.name); });

TEST(SupervisorTest, ActiveDeadlineStopsEverything) {
  TempDir tmp;
  RunResult result = RunJob(ShellJob(2, "exec sleep 60", {{"activeDeadlineSeconds", 1}}), tmp.path());
  EXPECT_EQ(result.phase, api::JobPhase::kFailed);
  EXPECT_EQ(result.reason, "DeadlineExceeded");
  EXPECT_NE(result.message.find("activeDeadlineSeconds 1 exceeded"), std::string::npos) << result.message;
  EXPECT_EQ(ExitCodeFor(result), 1);
  for (const WorkerView& r : result.view.workers) EXPECT_EQ(r.exit_code, 128 + SIGTERM);
}

TEST(SupervisorTest, RankZeroSuccessPolicyStopsTheOthers) {
  TempDir tmp;
  RunResult result = RunJob(
      ShellJob(3, "if [ \"$RANK\" = 0 ]; then exit 0; fi\nexec sleep 60\n", {{"successPolicy", "RankZero"}}),
      tmp.path());
  EXPECT_EQ(result.phase, api::JobPhase::kSucceeded) << result.message;
  EXPECT_EQ(result.reason, "RankZeroSucceeded");
  EXPECT_EQ(result.view.workers[0].exit_code, 0);
  EXPECT_EQ(result.view.workers[1].exit_code, 128 + SIGTERM);
}

TEST(SupervisorTest, AllWorkersWaitsForEveryWorker) {
  TempDir tmp;
  // Worker 0 finishes first; success needs the others too.
  RunResult result = RunJob(ShellJob(2, "if [ \"$RANK\" = 1 ]; then sleep 0.3; fi\necho done\n"), tmp.path());
  EXPECT_EQ(result.phase, api::JobPhase::kSucceeded) << result.message;
  for (const WorkerView& r : result.view.workers) EXPECT_EQ(r.exit_code, 0);
}

// A stop request (what SIGINT does) ends the run and leaves no process behind, grandchildren
// included: every rank starts a background sleep and records both pids.
TEST(SupervisorTest, StopRequestLeavesNoProcessBehind) {
  TempDir tmp;
  const std::string script = "sleep 60 &\necho $! > " + tmp.path() + "/grandchild-$RANK\necho $$ > " + tmp.path() +
                             "/pid-$RANK.tmp && mv " + tmp.path() + "/pid-$RANK.tmp " + tmp.path() +
                             "/pid-$RANK\nwait\n";
  const LocalPlan plan = MakePlan(ShellJob(3, script));
  RecordingObserver observer;
  StopRequest stop;
  std::vector<pid_t> pids;
  std::thread stopper([&] {
    const bool started = testing::WaitFor(
        [&] {
          for (int r = 0; r < 3; ++r) {
            if (!std::filesystem::exists(tmp.path() + "/pid-" + std::to_string(r))) return false;
          }
          return true;
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(started);
    stop.Request(SIGINT);
  });
  RunResult result = Supervise(plan, FastOptions(tmp.path() + "/run"), observer, stop);
  stopper.join();
  EXPECT_EQ(result.reason, "Stopped");
  EXPECT_EQ(ExitCodeFor(result), 130);
  for (int r = 0; r < 3; ++r) {
    for (const char* name : {"/pid-", "/grandchild-"}) {
      const pid_t pid = std::stoi(ReadFile(tmp.path() + name + std::to_string(r)));
      EXPECT_TRUE(testing::WaitFor([&] { return testing::ProcessGone(pid); }, std::chrono::seconds(5)))
          << name << r << " pid " << pid << " still running";
    }
  }
}

// The first gang restart starts at once; backoff applies from the second restart on, which
// waits backoff_base. The observer stops the run when the second wait is announced, so the
// test never waits out the (long) base.
TEST(SupervisorTest, FirstRestartIsImmediateAndTheSecondBacksOff) {
  class StopOnSecondRestart : public RecordingObserver {
   public:
    explicit StopOnSecondRestart(StopRequest* stop) : stop_(stop) {}
    void OnPhase(const RunView& view) override {
      RecordingObserver::OnPhase(view);
      if (view.phase != api::JobPhase::kRestarting) return;
      const size_t at = view.message.find("next attempt in ");
      if (at == std::string::npos) return;
      waits.push_back(view.message.substr(at + 16));
      if (view.restarts == 2) stop_->Request(SIGTERM);
    }
    std::vector<std::string> waits;

   private:
    StopRequest* stop_;
  };
  TempDir tmp;
  StopRequest stop;
  StopOnSecondRestart observer(&stop);
  SupervisorOptions options = FastOptions(tmp.path());
  options.backoff_base = std::chrono::seconds(600);
  options.backoff_cap = std::chrono::seconds(600);
  const LocalPlan plan = MakePlan(ShellJob(2, "exit 3", {{"backoffLimit", 5}, {"activeDeadlineSeconds", 120}}));
  const auto started = std::chrono::steady_clock::now();
  RunResult result = Supervise(plan, options, observer, stop);
  EXPECT_EQ(result.reason, "Stopped") << result.message;
  EXPECT_EQ(result.view.restarts, 2);
  EXPECT_EQ(observer.waits, (std::vector<std::string>{"0.0s", "600.0s"}));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() + "/attempt-1/worker-0.log")) << "attempt 1 ran";
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/attempt-2"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
}

TEST(SupervisorTest, StartFailureIsReported) {
  TempDir tmp;
  LocalPlan plan = MakePlan(ShellJob(2, "true"));
  plan.executable = tmp.path() + "/not-there";
  RecordingObserver observer;
  StopRequest stop;
  RunResult result = Supervise(plan, FastOptions(tmp.path()), observer, stop);
  EXPECT_EQ(result.reason, "StartFailed");
  EXPECT_NE(result.message.find("worker 0: cannot execute"), std::string::npos) << result.message;
}

}  // namespace
}  // namespace ringleader::local
