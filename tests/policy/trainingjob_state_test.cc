#include "ringleader/policy/trainingjob_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <tuple>

#include "ringleader/api/limits.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/api/validation.h"
#include "ringleader/policy/disruption.h"

#include "observed_pods.h"

namespace ringleader::controller {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const auto kT0 = *ParseRfc3339("2026-11-22T10:00:00Z");

api::TrainingJob MakeJob(int workers = 3, const std::string& scheduler = "Builtin",
                         json run_policy = json::object()) {
  json j = {{"apiVersion", "ringleader.dev/v1alpha1"},
            {"kind", "TrainingJob"},
            {"metadata", {{"name", "demo"}, {"namespace", "ml"}, {"uid", "u1"}, {"generation", 2}}},
            {"spec",
             {{"workers", workers},
              {"gang", {{"scheduler", scheduler}, {"timeoutSeconds", 60}}},
              {"runPolicy", run_policy},
              {"template", {{"spec", {{"containers", json::array({{{"name", "t"}, {"image", "i"}}})}}}}}}}};
  auto job = api::ParseTrainingJob(j);
  EXPECT_TRUE(job.ok()) << job.status().ToString();
  return *job;
}

using testing::Pod;
using testing::Exited;
using testing::Pods;

StateInput Input(const api::TrainingJob& job, std::vector<ObservedPod> pods,
                 std::chrono::system_clock::time_point now = kT0) {
  StateInput in;
  in.job = job;
  in.pods = std::move(pods);
  in.service_exists = true;
  in.now = now;
  return in;
}

// Applies a plan's status to the job, as the reconciler's status write would.
api::TrainingJob After(api::TrainingJob job, const StatePlan& plan) {
  job.status = plan.status;
  return job;
}

bool HasEvent(const StatePlan& plan, const std::string& reason) {
  return std::any_of(plan.events.begin(), plan.events.end(), [&](const JobEvent& e) { return e.reason == reason; });
}

std::string Cond(const StatePlan& plan, const std::string& type) {
  const api::Condition* c = FindCondition(plan.status.conditions, type);
  return c ? c->status + "/" + c->reason : "-";
}

// A new Builtin job (no Service yet) after its admission; returns the job as it then is.
api::TrainingJob AdmittedJob(api::TrainingJob job) {
  StateInput in = Input(job, {});
  in.service_exists = false;
  in.admission = AdmissionResult{true, "fits"};
  return After(job, DecideNextState(in));
}

// Workers 0..n-1 created and still held by the gang's scheduling gate.
std::vector<ObservedPod> GatedPods(int n) {
  auto pods = Pods(n, "Pending");
  for (auto& p : pods) p.gated = true;
  return pods;
}

// Walks a Builtin job from creation to all pods running; returns the job as it then is.
api::TrainingJob RunningJob(api::TrainingJob job, int workers) {
  job = AdmittedJob(job);
  job = After(job, DecideNextState(Input(job, GatedPods(workers))));
  return After(job, DecideNextState(Input(job, Pods(workers, "Running"), kT0 + seconds(5))));
}

TEST(TrainingJobStateTest, NewBuiltinJobAdmittedCreatesGatedGang) {
  api::TrainingJob job = MakeJob(3);
  EXPECT_TRUE(NeedsAdmission(job, {}));
  StateInput in = Input(job, {});
  in.service_exists = false;
  in.admission = AdmissionResult{true, "all 3 workers fit"};
  StatePlan plan = DecideNextState(in);
  EXPECT_EQ(plan.status.phase, api::JobPhase::kScheduling);
  EXPECT_TRUE(plan.create_service);
  EXPECT_FALSE(plan.create_podgroup);
  EXPECT_EQ(plan.create_ranks, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Cond(plan, "Admitted"), "True/GangAdmitted");
  EXPECT_EQ(Cond(plan, "GangScheduled"), "False/CreatingPods");
  EXPECT_TRUE(HasEvent(plan, "GangAdmitted"));
  EXPECT_TRUE(plan.admitted);
  EXPECT_EQ(plan.status.start_time, "2026-11-22T10:00:00Z");
  EXPECT_EQ(plan.status.observed_generation, 2);
  EXPECT_EQ(plan.status.ready, "0/3");
}

TEST(TrainingJobStateTest, GangThatDoesNotFitWaits) {
  api::TrainingJob job = MakeJob(3);
  StateInput in = Input(job, {});
  in.admission = AdmissionResult{false, "needs 24 nvidia.com/gpu, 8 free"};
  StatePlan plan = DecideNextState(in);
  EXPECT_EQ(plan.status.phase, api::JobPhase::kPending);
  EXPECT_TRUE(plan.create_ranks.empty());
  EXPECT_FALSE(plan.create_service);
  EXPECT_EQ(Cond(plan, "Admitted"), "False/InsufficientCapacity");
  EXPECT_NE(plan.status.message.find("needs 24 nvidia.com/gpu, 8 free"), std::string::npos);
  ASSERT_TRUE(plan.requeue_after);
  EXPECT_EQ(*plan.requeue_after, StateOptions{}.admission_retry);
}

TEST(TrainingJobStateTest, PartialGangIsCompletedNotReleased) {
  api::TrainingJob job = AdmittedJob(MakeJob(3));
  auto pods = GatedPods(2);
  EXPECT_FALSE(NeedsAdmission(job, pods));
  StatePlan plan = DecideNextState(Input(job, pods));
  EXPECT_EQ(plan.create_ranks, (std::vector<int64_t>{2}));
  EXPECT_TRUE(plan.ungate_pods.empty()) << "no pod may run before the whole gang exists";
}

TEST(TrainingJobStateTest, AllPodsSeenReleasesGateTogether) {
  api::TrainingJob job = AdmittedJob(MakeJob(3));
  StatePlan plan = DecideNextState(Input(job, GatedPods(3)));
  EXPECT_EQ(plan.ungate_pods.size(), 3u);
  EXPECT_EQ(Cond(plan, "GangScheduled"), "False/PodsCreated");
  EXPECT_TRUE(HasEvent(plan, "GangCreated"));
  EXPECT_TRUE(plan.create_ranks.empty());
}

TEST(TrainingJobStateTest, AllRunningIsRunning) {
  api::TrainingJob job = RunningJob(MakeJob(3), 3);
  EXPECT_EQ(job.status.phase, api::JobPhase::kRunning);
  EXPECT_EQ(job.status.ready, "3/3");
  EXPECT_EQ(job.status.workers.running, 3);
  StatePlan again = DecideNextState(Input(job, Pods(3, "Running"), kT0 + seconds(6)));
  EXPECT_TRUE(again.events.empty()) << "one event per transition, not per reconcile";
  EXPECT_EQ(again.status, job.status) << "nothing changed: nothing to write";
}

TEST(TrainingJobStateTest, WorkerFailureRestartsWholeGang) {
  api::TrainingJob job = RunningJob(MakeJob(3), 3);
  auto pods = Pods(3, "Running");
  Exited(pods[1], 137, "OOMKilled");
  StatePlan plan = DecideNextState(Input(job, pods, kT0 + seconds(10)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(plan.status.restarts, 1);
  EXPECT_EQ(plan.delete_pods.size(), 3u);
  EXPECT_TRUE(HasEvent(plan, "WorkerFailed"));
  EXPECT_TRUE(HasEvent(plan, "GangRestarting"));
  EXPECT_TRUE(plan.restarted);
  EXPECT_NE(plan.status.message.find("worker 1 exited with code 137 (OOMKilled)"), std::string::npos)
      << plan.status.message;

  // Pods still there: keep deleting, wait.
  job = After(job, plan);
  StatePlan waiting = DecideNextState(Input(job, pods, kT0 + seconds(11)));
  EXPECT_EQ(waiting.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(waiting.status.attempt, 0);
  // Pods gone: the first restart's attempt starts at once (no backoff) and needs admission again.
  StatePlan next = DecideNextState(Input(job, {}, kT0 + seconds(11)));
  EXPECT_EQ(next.status.attempt, 1);
  EXPECT_EQ(next.status.phase, api::JobPhase::kPending);
  job = After(job, next);
  EXPECT_TRUE(NeedsAdmission(job, {}));
  StateInput in = Input(job, {}, kT0 + seconds(11));
  in.admission = AdmissionResult{true, "fits"};
  StatePlan create = DecideNextState(in);
  EXPECT_EQ(create.create_ranks.size(), 3u);

  // The second restart waits the backoff (10 s) once the pods are gone.
  api::TrainingJob again = RunningJob(MakeJob(3), 3);
  again.status.restarts = 1;
  again = After(again, DecideNextState(Input(again, pods, kT0 + seconds(10))));
  ASSERT_EQ(again.status.restarts, 2);
  StatePlan backoff = DecideNextState(Input(again, {}, kT0 + seconds(15)));
  EXPECT_EQ(backoff.status.attempt, 0);
  ASSERT_TRUE(backoff.requeue_after);
  EXPECT_LE(*backoff.requeue_after, milliseconds(5001));
  StatePlan later = DecideNextState(Input(again, {}, kT0 + seconds(21)));
  EXPECT_EQ(later.status.attempt, 1);
}

TEST(TrainingJobStateTest, BackoffLimitThenFailedWithCleanPolicy) {
  api::TrainingJob job = RunningJob(MakeJob(3, "Builtin", {{"backoffLimit", 1}}), 3);
  job.status.restarts = 1;
  auto pods = Pods(3, "Running");
  Exited(pods[2], 1, "Error");
  StatePlan plan = DecideNextState(Input(job, pods, kT0 + seconds(30)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kFailed);
  EXPECT_EQ(Cond(plan, "Failed"), "True/BackoffLimitExceeded");
  EXPECT_NE(plan.status.message.find("worker 2 exited with code 1"), std::string::npos) << plan.status.message;
  EXPECT_TRUE(HasEvent(plan, "Failed"));
  // cleanPodPolicy Running: the running pods go, the failed one stays for its logs.
  EXPECT_EQ(plan.delete_pods, (std::vector<std::string>{"demo-worker-0", "demo-worker-1"}));
  EXPECT_EQ(plan.status.completion_time, "2026-11-22T10:00:30Z");
}

// ---- issue 14: node loss, disruptions, stuck pods, stalls, in-place restarts (disruption.h)

ObservedPod OnNode(ObservedPod pod, const std::string& node) {
  pod.node_name = node;
  return pod;
}

// Workers on nodes of their own: worker r on node-r.
std::vector<ObservedPod> SpreadPods(int n, const std::string& phase, int attempt = 0) {
  auto pods = Pods(n, phase, attempt);
  for (auto& p : pods) p.node_name = "node-" + std::to_string(p.rank);
  return pods;
}

StateInput WithLost(StateInput in, const std::string& node) {
  in.lost_nodes[node] = NodeHealth{true, false, "Ready=Unknown"};
  return in;
}

// The message of the plan's Event with this reason ("" when none).
std::string EventMessage(const StatePlan& plan, const std::string& reason) {
  for (const JobEvent& e : plan.events) {
    if (e.reason == reason) return e.message;
  }
  return "";
}

// A worker's node dies: the gang restarts at once (the first restart has no backoff), with
// NodeLost naming the node, even though no pod reported anything.
TEST(TrainingJobStateTest, LostNodeRestartsTheGangAtOnceNamingTheNode) {
  api::TrainingJob job = RunningJob(MakeJob(3), 3);
  ASSERT_EQ(job.status.phase, api::JobPhase::kRunning);
  StatePlan plan = DecideNextState(WithLost(Input(job, SpreadPods(3, "Running"), kT0 + seconds(10)), "node-1"));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(plan.status.restarts, 1);
  EXPECT_EQ(Cond(plan, "Restarting"), "True/NodeLost");
  EXPECT_EQ(EventMessage(plan, "NodeLost"), "worker 1 was disrupted (NodeLost): pod demo-worker-1 on node node-1 (Ready=Unknown)");
  EXPECT_NE(plan.status.message.find("node node-1"), std::string::npos) << plan.status.message;
  EXPECT_EQ(plan.delete_pods.size(), 3u);
  ASSERT_TRUE(plan.requeue_after);
  EXPECT_EQ(*plan.requeue_after, milliseconds(0));
}

// How a running gang's attempt ends, one row per way to fail: the pods as observed (and a
// lost node), and the phase, condition, status message and Event that the decision gives.
struct AttemptEndCase {
  const char* name;
  int workers;
  json run_policy;
  bool spread_nodes;  // worker r on node-r (else all on node-0)
  std::function<void(std::vector<ObservedPod>&)> observe;
  const char* lost_node;           // "" for none
  api::JobPhase phase;
  const char* restarting;          // Cond(plan, "Restarting") when not ""
  const char* message_has;         // in status.message when not ""
  const char* event;               // the Event with this reason has event_message
  const char* event_message;
};

void PrintTo(const AttemptEndCase& c, std::ostream* os) { *os << c.name; }

std::function<void(std::vector<ObservedPod>&)> Exits(std::vector<std::tuple<int, int, const char*>> exits) {
  return [exits](std::vector<ObservedPod>& pods) {
    for (const auto& [rank, code, finished_at] : exits) {
      pods[rank].phase = "Failed";
      pods[rank].exit_code = code;
      pods[rank].finished_at = finished_at;
    }
  };
}

const json kExitCodePolicy = {{"restartPolicy", "ExitCode"}};

class AttemptEndTest : public ::testing::TestWithParam<AttemptEndCase> {};

TEST_P(AttemptEndTest, EndsAsTheTableSays) {
  const AttemptEndCase& c = GetParam();
  api::TrainingJob job = RunningJob(MakeJob(c.workers, "Builtin", c.run_policy), c.workers);
  auto pods = c.spread_nodes ? SpreadPods(c.workers, "Running") : Pods(c.workers, "Running");
  c.observe(pods);
  StateInput in = Input(job, pods, kT0 + seconds(9));
  if (*c.lost_node) in = WithLost(in, c.lost_node);
  StatePlan plan = DecideNextState(in);
  EXPECT_EQ(plan.status.phase, c.phase) << plan.status.message;
  if (*c.restarting) EXPECT_EQ(Cond(plan, "Restarting"), c.restarting);
  if (*c.message_has) {
    EXPECT_NE(plan.status.message.find(c.message_has), std::string::npos) << plan.status.message;
  }
  if (*c.event) EXPECT_EQ(EventMessage(plan, c.event), c.event_message);
}

using api::JobPhase;

INSTANTIATE_TEST_SUITE_P(
    Table, AttemptEndTest,
    ::testing::Values(
        // restartPolicy ExitCode: 1-127 are permanent, 128 and up (signals) and 175 (a peer
        // failed) are retried.
        AttemptEndCase{"ExitCode1IsPermanent", 2, kExitCodePolicy, false, Exits({{0, 1, ""}}), "",
                       JobPhase::kFailed, "", "", "", ""},
        AttemptEndCase{"ExitCode127IsPermanent", 2, kExitCodePolicy, false, Exits({{0, 127, ""}}), "",
                       JobPhase::kFailed, "", "", "", ""},
        AttemptEndCase{"ExitCode128IsRetried", 2, kExitCodePolicy, false, Exits({{0, 128, ""}}), "",
                       JobPhase::kRestarting, "", "", "", ""},
        AttemptEndCase{"ExitCode175IsRetried", 2, kExitCodePolicy, false, Exits({{0, 175, ""}}), "",
                       JobPhase::kRestarting, "", "", "", ""},
        // Rank 2 was OOMKilled first; ranks 0 and 1 then exited 1 on the broken collective.
        AttemptEndCase{"TheWorkerThatFailedFirstDecidesNotTheLowestRank", 3, kExitCodePolicy, false,
                       Exits({{2, 137, "2026-11-22T10:00:03Z"},
                              {0, 1, "2026-11-22T10:00:05Z"},
                              {1, 1, "2026-11-22T10:00:05Z"}}),
                       "", JobPhase::kRestarting, "", "137", "", ""},
        // Without timestamps the lowest failed rank is taken (policy/failure_attribution.h).
        AttemptEndCase{"WithoutTimesTheLowestFailedRankDecides", 3, kExitCodePolicy, false,
                       Exits({{2, 137, ""}, {0, 1, ""}, {1, 1, ""}}), "", JobPhase::kFailed, "", "", "", ""},
        AttemptEndCase{"PodDeletedOutOfBandRestarts", 3, kExitCodePolicy, false,
                       [](std::vector<ObservedPod>& pods) { pods.erase(pods.begin() + 1); }, "",
                       JobPhase::kRestarting, "", "worker 1 was disrupted (Deleted)", "", ""},
        AttemptEndCase{"EvictionIsADisruption", 2, kExitCodePolicy, false,
                       [](std::vector<ObservedPod>& pods) {
                         pods[1].phase = "Failed";
                         pods[1].disrupted = true;
                         pods[1].reason = "Evicted";
                         pods[1].exit_code = 1;
                       },
                       "", JobPhase::kRestarting, "", "", "", ""},
        // The peers of a lost worker exit 1 on the broken collective; the lost node is the
        // cause, so the restart is still retryable.
        AttemptEndCase{"LostNodeGoesBeforeThePeersExitCodes", 3, kExitCodePolicy, true,
                       [](std::vector<ObservedPod>& pods) {
                         Exited(pods[0], 1, "Error");
                       },
                       "node-2", JobPhase::kRestarting, "True/NodeLost", "", "", ""},
        AttemptEndCase{"DisruptionTargetRestartsAsPreempted", 3, json::object(), true,
                       [](std::vector<ObservedPod>& pods) {
                         pods[2].disrupted = true;
                         pods[2].reason = "PreemptionByScheduler";
                       },
                       "", JobPhase::kRestarting, "True/Preempted", "", "Preempted",
                       "worker 2 was disrupted (Preempted): pod demo-worker-2 on node node-2"}),
    [](const ::testing::TestParamInfo<AttemptEndCase>& info) { return std::string(info.param.name); });

// Restarting waits for the old pods on live nodes, not for those on a lost node; the next
// attempt's worker whose name such a pod holds gets a name of its own.
TEST(TrainingJobStateTest, PodsOnALostNodeDoNotHoldUpTheNextAttempt) {
  api::TrainingJob job = RunningJob(MakeJob(3), 3);
  job = After(job, DecideNextState(WithLost(Input(job, SpreadPods(3, "Running"), kT0 + seconds(10)), "node-1")));
  ASSERT_EQ(job.status.phase, api::JobPhase::kRestarting);
  auto old = SpreadPods(3, "Running");
  for (auto& p : old) {
    p.terminating = true;
    p.deletion_timestamp = FormatRfc3339(kT0 + seconds(40));
  }
  // Pods on live nodes still terminating: wait.
  StatePlan waiting = DecideNextState(WithLost(Input(job, old, kT0 + seconds(10)), "node-1"));
  EXPECT_EQ(waiting.status.phase, api::JobPhase::kRestarting);
  // Only the lost node's pod is left: the next attempt starts.
  std::vector<ObservedPod> stuck = {old[1]};
  job = After(job, DecideNextState(WithLost(Input(job, stuck, kT0 + seconds(11)), "node-1")));
  EXPECT_EQ(job.status.phase, api::JobPhase::kPending);
  EXPECT_EQ(job.status.attempt, 1);
  StateInput in = WithLost(Input(job, stuck, kT0 + seconds(11)), "node-1");
  in.admission = AdmissionResult{true, "fits"};
  StatePlan create = DecideNextState(in);
  EXPECT_EQ(create.create_ranks, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(create.create_names,
            (std::vector<std::string>{"demo-worker-0", "demo-worker-1-a1", "demo-worker-2"}));
  EXPECT_TRUE(create.force_delete_pods.empty()) << "its grace period has not ended";
}

TEST(TrainingJobStateTest, StuckPodIsForceDeletedWithAnEvent) {
  auto pod = OnNode(Pod(1, "Running"), "node-1");
  pod.terminating = true;
  pod.deletion_timestamp = FormatRfc3339(kT0);  // grace period ends at kT0
  api::TrainingJob job = RunningJob(MakeJob(2), 2);
  job.status.phase = api::JobPhase::kRestarting;
  StatePlan plan = DecideNextState(WithLost(Input(job, {pod}, kT0 + seconds(20)), "node-1"));
  EXPECT_EQ(plan.force_delete_pods, std::vector<std::string>{"demo-worker-1"});
  EXPECT_TRUE(HasEvent(plan, "ForceDeleted"));
}

TEST(TrainingJobStateTest, RunningGangWithoutProgressRestartsAsStalled) {
  api::TrainingJob job = RunningJob(MakeJob(2, "Builtin", {{"progressDeadlineSeconds", 60}}), 2);
  ASSERT_EQ(job.status.phase, api::JobPhase::kRunning);
  // The gang went Running at kT0+5s; step 40 was reported at kT0+30s.
  job.status.progress = api::Progress{40, 0.5, 10, FormatRfc3339(kT0 + seconds(30))};
  StatePlan before = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(89)));
  EXPECT_EQ(before.status.phase, api::JobPhase::kRunning);
  ASSERT_TRUE(before.requeue_after);
  EXPECT_LE(*before.requeue_after, seconds(2)) << "looks again when the deadline passes";
  StatePlan plan = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(90)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(Cond(plan, "Restarting"), "True/Stalled");
  EXPECT_EQ(EventMessage(plan, "Stalled"),
             "the gang stalled (Stalled): no progress for 60s (progressDeadlineSeconds): step 40 was last reported at "
            "2026-11-22T10:00:30Z");
}

TEST(TrainingJobStateTest, NoReportCountsFromWhenTheGangWentRunning) {
  api::TrainingJob job = RunningJob(MakeJob(2, "Builtin", {{"progressDeadlineSeconds", 60}}), 2);
  // A report from an older attempt, before this gang ran, does not start the clock earlier.
  job.status.progress = api::Progress{900, 0.1, 10, FormatRfc3339(kT0 - seconds(300))};
  EXPECT_EQ(DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(64))).status.phase,
            api::JobPhase::kRunning);
  StatePlan plan = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(65)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRestarting);
  EXPECT_NE(plan.status.message.find("no step was reported since the gang started running at 2026-11-22T10:00:05Z"),
            std::string::npos)
      << plan.status.message;
}

TEST(TrainingJobStateTest, ProgressDeadlineBelowTheMinimumIsRefused) {
  json j = {{"apiVersion", "ringleader.dev/v1alpha1"},
            {"kind", "TrainingJob"},
            {"metadata", {{"name", "demo"}}},
            {"spec",
             {{"workers", 1},
              {"runPolicy", {{"progressDeadlineSeconds", 10}}},
              {"template", {{"spec", {{"containers", json::array({{{"name", "t"}, {"image", "i"}}})}}}}}}}};
  auto job = api::ParseTrainingJob(j);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("spec.runPolicy.progressDeadlineSeconds: must be at least 30"),
            std::string::npos)
      << job.status().message();
}

// In-place restarts reported by rank 0 count as restarts (RESTARTS, backoffLimit) with an
// Event each time more are seen; only those of the current attempt count.
TEST(TrainingJobStateTest, CountedAgainstBackoffLimitWithEvents) {
  api::TrainingJob job = RunningJob(MakeJob(2, "Builtin", {{"backoffLimit", 3}}), 2);
  api::Progress progress;
  progress.attempt = 0;
  progress.in_place_restarts = 2;
  job.status.progress = progress;
  StatePlan plan = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(10)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRunning);
  EXPECT_EQ(plan.status.restarts, 2);
  EXPECT_EQ(plan.status.in_place_restarts, 2);
  EXPECT_EQ(EventMessage(plan, "RestartedInPlace"), "the workers restarted in place 2 times in attempt 0 (restart 2 of 3)");
  job = After(job, plan);
  // Seen again: nothing new.
  StatePlan same = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(11)));
  EXPECT_EQ(same.status.restarts, 2);
  EXPECT_FALSE(HasEvent(same, "RestartedInPlace"));
  // Two more: past backoffLimit 3 -> Failed.
  job.status.progress->in_place_restarts = 4;
  StatePlan failed = DecideNextState(Input(job, SpreadPods(2, "Running"), kT0 + seconds(12)));
  EXPECT_EQ(failed.status.phase, api::JobPhase::kFailed);
  EXPECT_EQ(failed.status.restarts, 4);
  EXPECT_EQ(Cond(failed, "Failed"), "True/BackoffLimitExceeded");
  EXPECT_EQ(failed.status.message,
            "the workers restarted in place 4 times in attempt 0; backoffLimit 3 exceeded after 4 restarts");
  EXPECT_EQ(failed.delete_pods.size(), 2u);
}

TEST(TrainingJobStateTest, OlderAttemptsReportIsNotCountedAgain) {
  api::TrainingJob job = RunningJob(MakeJob(2), 2);
  job.status.attempt = 1;
  api::Progress progress;
  progress.attempt = 0;  // rank 0 of attempt 0 wrote it
  progress.in_place_restarts = 2;
  job.status.progress = progress;
  auto pods = SpreadPods(2, "Running", 1);
  StatePlan plan = DecideNextState(Input(job, pods, kT0 + seconds(10)));
  EXPECT_EQ(plan.status.restarts, job.status.restarts);
  EXPECT_FALSE(HasEvent(plan, "RestartedInPlace"));
}
// ---- end issue 14

TEST(TrainingJobStateTest, GangTimeoutTearsDownPartialGang) {
  api::TrainingJob job = MakeJob(3);
  StateInput in = Input(job, {});
  in.admission = AdmissionResult{true, "fits"};
  job = After(job, DecideNextState(in));
  job = After(job, DecideNextState(Input(job, Pods(3, "Pending"))));  // PodsCreated at T0
  auto pods = Pods(3, "Running");
  pods[2].phase = "Pending";  // unschedulable
  StatePlan before = DecideNextState(Input(job, pods, kT0 + seconds(59)));
  EXPECT_EQ(before.status.phase, api::JobPhase::kScheduling);
  ASSERT_TRUE(before.requeue_after);
  EXPECT_LE(*before.requeue_after, milliseconds(1001));
  StatePlan after = DecideNextState(Input(job, pods, kT0 + seconds(60)));
  EXPECT_EQ(after.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(after.delete_pods.size(), 3u) << "no partial gang may hold resources";
  EXPECT_NE(after.status.message.find("2 of 3 Running after 60s"), std::string::npos) << after.status.message;
}

// Creates that keep failing (quota, an admission webhook) used to stop the gang timeout: it
// only ran once every pod existed, so the pods that were created held their nodes forever.
TEST(TrainingJobStateTest, GangTimeoutAlsoEndsAGangWhosePodsCannotAllBeCreated) {
  for (const char* scheduler : {"Builtin", "None", "Volcano"}) {
    api::TrainingJob job = MakeJob(3, scheduler);
    StateInput in = Input(job, {});
    in.admission = AdmissionResult{true, "fits"};
    job = After(job, DecideNextState(in));  // CreatingPods at T0
    ASSERT_EQ(Cond(DecideNextState(in), "GangScheduled"), "False/CreatingPods") << scheduler;
    auto two = Pods(2, "Running");  // rank 2's create keeps failing
    job = After(job, DecideNextState(Input(job, two, kT0 + seconds(30))));
    StatePlan before = DecideNextState(Input(job, two, kT0 + seconds(59)));
    EXPECT_EQ(before.status.phase, api::JobPhase::kScheduling) << scheduler;
    EXPECT_EQ(before.create_ranks, (std::vector<int64_t>{2})) << scheduler;
    ASSERT_TRUE(before.requeue_after) << scheduler;
    EXPECT_LE(*before.requeue_after, milliseconds(1001)) << scheduler << ": woken when the timeout expires";
    StatePlan after = DecideNextState(Input(job, two, kT0 + seconds(60)));
    EXPECT_EQ(after.status.phase, api::JobPhase::kRestarting) << scheduler;
    EXPECT_TRUE(after.create_ranks.empty()) << scheduler;
    EXPECT_EQ(after.delete_pods, (std::vector<std::string>{"demo-worker-0", "demo-worker-1"})) << scheduler;
    EXPECT_NE(after.status.message.find("only 2 of 3 pods created (2 Running) after 60s"), std::string::npos)
        << scheduler << ": " << after.status.message;
  }
}

// Waiting for capacity is not part of the gang timeout: no pod exists, nothing is held.
TEST(TrainingJobStateTest, GangTimeoutDoesNotRunWhileWaitingForAdmission) {
  api::TrainingJob job = MakeJob(3);
  StateInput in = Input(job, {});
  in.admission = AdmissionResult{false, "needs 3 cpu, 1 free"};
  job = After(job, DecideNextState(in));
  in = Input(job, {}, kT0 + seconds(600));
  in.admission = AdmissionResult{false, "needs 3 cpu, 1 free"};
  StatePlan plan = DecideNextState(in);
  EXPECT_EQ(plan.status.phase, api::JobPhase::kPending);
  EXPECT_EQ(plan.status.restarts, 0);
}

// Regression: the timeout of attempt 2 used to run from attempt 1's GangScheduled=False
// transition (the condition stayed False through teardown and backoff), so after one gang
// timeout every later attempt timed out right after its pods were created.
TEST(TrainingJobStateTest, GangTimeoutOfALaterAttemptCountsFromThatAttempt) {
  api::TrainingJob job = MakeJob(3);
  StateInput in = Input(job, {});
  in.admission = AdmissionResult{true, "fits"};
  job = After(job, DecideNextState(in));
  job = After(job, DecideNextState(Input(job, Pods(3, "Pending"))));
  auto partial = Pods(3, "Running");
  partial[2].phase = "Pending";
  job = After(job, DecideNextState(Input(job, partial, kT0 + seconds(60))));  // GangTimeout
  ASSERT_EQ(job.status.phase, api::JobPhase::kRestarting);
  // Pods gone; the backoff (10 s) has passed long ago: attempt 1 starts at T0+200s.
  auto t1 = kT0 + seconds(200);
  job = After(job, DecideNextState(Input(job, {}, t1)));
  ASSERT_EQ(job.status.attempt, 1);
  in = Input(job, {}, t1);
  in.admission = AdmissionResult{true, "fits"};
  job = After(job, DecideNextState(in));
  job = After(job, DecideNextState(Input(job, Pods(3, "Pending", 1), t1 + seconds(1))));
  StatePlan plan = DecideNextState(Input(job, Pods(3, "Pending", 1), t1 + seconds(2)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kScheduling) << plan.status.message;
  EXPECT_TRUE(plan.delete_pods.empty());
  plan = DecideNextState(Input(job, Pods(3, "Pending", 1), t1 + seconds(61)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kRestarting) << "attempt 1 still gets its own 60 s";
}

// How a running gang finishes, one row per policy: the pods as observed at a time, and the
// phase, the terminal condition, its Event and how many pods the clean-up deletes.
struct FinishCase {
  const char* name;
  int workers;
  json run_policy;
  std::vector<const char*> phases;  // of workers 0..n-1
  int at_seconds;
  api::JobPhase phase;
  const char* condition;  // "Succeeded=True/AllWorkersSucceeded", or "" when none is checked
  const char* event;      // an Event with this reason, or ""
  size_t deleted_pods;
};

void PrintTo(const FinishCase& c, std::ostream* os) { *os << c.name; }

class FinishTest : public ::testing::TestWithParam<FinishCase> {};

TEST_P(FinishTest, EndsAsTheTableSays) {
  const FinishCase& c = GetParam();
  api::TrainingJob job = RunningJob(MakeJob(c.workers, "Builtin", c.run_policy), c.workers);
  std::vector<ObservedPod> pods;
  for (int r = 0; r < c.workers; ++r) pods.push_back(Pod(r, c.phases[r]));
  StatePlan plan = DecideNextState(Input(job, pods, kT0 + seconds(c.at_seconds)));
  EXPECT_EQ(plan.status.phase, c.phase) << plan.status.message;
  if (*c.condition) {
    const std::string condition = c.condition;
    const size_t eq = condition.find('=');
    EXPECT_EQ(Cond(plan, condition.substr(0, eq)), condition.substr(eq + 1));
  }
  if (*c.event) EXPECT_TRUE(HasEvent(plan, c.event));
  EXPECT_EQ(plan.delete_pods.size(), c.deleted_pods);
  const auto succeeded = std::count(c.phases.begin(), c.phases.end(), std::string("Succeeded"));
  EXPECT_EQ(plan.status.workers.succeeded, succeeded);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FinishTest,
    ::testing::Values(
        FinishCase{"AllPolicyKeepsRunningUntilEveryWorkerSucceeded", 3, json::object(),
                   {"Succeeded", "Running", "Running"}, 9, api::JobPhase::kRunning, "", "", 0},
        FinishCase{"AllPolicySucceedsWhenEveryWorkerDid", 3, json::object(), {"Succeeded", "Succeeded", "Succeeded"},
                   9, api::JobPhase::kSucceeded, "Succeeded=True/AllWorkersSucceeded", "Succeeded", 0},
        // cleanPodPolicy Running removes the still-running workers.
        FinishCase{"RankZeroPolicySucceedsWithWorkerZero", 3, {{"successPolicy", "RankZero"}},
                   {"Succeeded", "Running", "Running"}, 9, api::JobPhase::kSucceeded, "", "", 2},
        FinishCase{"CleanPodPolicyAllDeletesFinishedPods", 2, {{"cleanPodPolicy", "All"}}, {"Succeeded", "Succeeded"},
                   9, api::JobPhase::kSucceeded, "", "", 2},
        FinishCase{"CleanPodPolicyNoneKeepsThem", 2, {{"cleanPodPolicy", "None"}}, {"Succeeded", "Succeeded"}, 9,
                   api::JobPhase::kSucceeded, "", "", 0},
        FinishCase{"ActiveDeadlineFailsAndDeletesTheGang", 2, {{"activeDeadlineSeconds", 100}},
                   {"Running", "Running"}, 100, api::JobPhase::kFailed, "Failed=True/DeadlineExceeded",
                   "DeadlineExceeded", 2}),
    [](const ::testing::TestParamInfo<FinishCase>& info) { return std::string(info.param.name); });

TEST(TrainingJobStateTest, DeadlineIsRequeuedForBeforeItPasses) {
  api::TrainingJob job = RunningJob(MakeJob(2, "Builtin", {{"activeDeadlineSeconds", 100}}), 2);
  StatePlan early = DecideNextState(Input(job, Pods(2, "Running"), kT0 + seconds(50)));
  EXPECT_EQ(early.status.phase, api::JobPhase::kRunning);
  ASSERT_TRUE(early.requeue_after);
  EXPECT_LE(*early.requeue_after, milliseconds(50001));
}

TEST(TrainingJobStateTest, TtlDeletesJobOnTime) {
  api::TrainingJob job = RunningJob(MakeJob(2, "Builtin", {{"ttlSecondsAfterFinished", 30}}), 2);
  job = After(job, DecideNextState(Input(job, Pods(2, "Succeeded"), kT0 + seconds(10))));
  StatePlan early = DecideNextState(Input(job, Pods(2, "Succeeded"), kT0 + seconds(20)));
  EXPECT_FALSE(early.delete_job);
  ASSERT_TRUE(early.requeue_after);
  EXPECT_LE(*early.requeue_after, milliseconds(20001));
  EXPECT_GE(*early.requeue_after, milliseconds(19999));
  EXPECT_TRUE(DecideNextState(Input(job, {}, kT0 + seconds(40))).delete_job);
}

TEST(TrainingJobStateTest, SuspendAndResume) {
  api::TrainingJob job = RunningJob(MakeJob(2), 2);
  job.spec.run_policy.suspend = true;
  StatePlan plan = DecideNextState(Input(job, Pods(2, "Running"), kT0 + seconds(9)));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kSuspended);
  EXPECT_EQ(plan.delete_pods.size(), 2u);
  EXPECT_TRUE(HasEvent(plan, "Suspended"));
  job = After(job, plan);
  job.spec.run_policy.suspend = false;
  StatePlan resumed = DecideNextState(Input(job, {}, kT0 + seconds(20)));
  EXPECT_EQ(resumed.status.phase, api::JobPhase::kPending);
  EXPECT_EQ(resumed.status.attempt, 1);
  EXPECT_EQ(resumed.status.restarts, 0) << "a resume is not a failure";
  EXPECT_TRUE(HasEvent(resumed, "Resumed"));
  EXPECT_EQ(resumed.status.start_time, "2026-11-22T10:00:20Z");
}

// Regression: a suspended or restarting job showed its deleted workers as running and ready
// ("3/3") until they were gone, which takes the pods' whole deletion grace period.
TEST(TrainingJobStateTest, WorkersBeingDeletedAreNotCountedRunningOrReady) {
  api::TrainingJob job = RunningJob(MakeJob(3), 3);
  job.spec.run_policy.suspend = true;
  StatePlan suspend = DecideNextState(Input(job, Pods(3, "Running"), kT0 + seconds(9)));
  EXPECT_EQ(suspend.status.phase, api::JobPhase::kSuspended);
  EXPECT_EQ(suspend.status.ready, "0/3") << "deleted by this very step";
  EXPECT_EQ(suspend.status.workers, api::WorkerCounts{});
  job = After(job, suspend);
  auto terminating = Pods(3, "Running");
  for (auto& p : terminating) p.terminating = true;
  StatePlan lingering = DecideNextState(Input(job, terminating, kT0 + seconds(10)));
  EXPECT_EQ(lingering.status.ready, "0/3") << "in their deletion grace period";
  EXPECT_EQ(lingering.status.workers.running, 0);

  // A restart: the failed worker stays counted as failed, its peers are no longer running.
  api::TrainingJob running = RunningJob(MakeJob(3), 3);
  auto pods = Pods(3, "Running");
  Exited(pods[2], 1);
  StatePlan restart = DecideNextState(Input(running, pods, kT0 + seconds(10)));
  EXPECT_EQ(restart.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(restart.status.ready, "0/3");
  EXPECT_EQ(restart.status.workers.failed, 1);
  EXPECT_EQ(restart.status.workers.running, 0);

  // Still counted while nothing deletes them.
  StatePlan steady = DecideNextState(Input(running, Pods(3, "Running"), kT0 + seconds(10)));
  EXPECT_EQ(steady.status.ready, "3/3");
}

// Regression: when the status write that records Admitted=True after the pods were created
// failed (a 409, or the operator was killed in between), the next reconcile saw pods of the
// attempt (so NeedsAdmission was false and no capacity check came) without Admitted=True, and
// requeued itself at once, forever: the gang stayed gated and the operator spun a CPU.
TEST(TrainingJobStateTest, PodsCreatedBeforeTheAdmissionWasRecordedCountAsAdmitted) {
  api::TrainingJob job = MakeJob(3);  // no status at all: the first write never happened
  auto gated = GatedPods(3);
  EXPECT_FALSE(NeedsAdmission(job, gated));
  StatePlan plan = DecideNextState(Input(job, gated));
  EXPECT_EQ(Cond(plan, "Admitted"), "True/GangAdmitted");
  EXPECT_TRUE(HasEvent(plan, "GangAdmitted"));
  EXPECT_EQ(plan.status.phase, api::JobPhase::kScheduling);
  EXPECT_EQ(Cond(plan, "GangScheduled"), "False/PodsCreated");
  EXPECT_EQ(plan.ungate_pods.size(), 3u) << "all pods exist: release the gang";
  ASSERT_TRUE(plan.requeue_after);
  EXPECT_GT(*plan.requeue_after, milliseconds(0)) << "no hot loop";

  // Killed mid-creation: the missing ranks are created, nothing is released yet.
  std::vector<ObservedPod> some = {gated[0], gated[2]};
  StatePlan partial = DecideNextState(Input(job, some));
  EXPECT_EQ(Cond(partial, "Admitted"), "True/GangAdmitted");
  EXPECT_EQ(partial.create_ranks, (std::vector<int64_t>{1}));
  EXPECT_TRUE(partial.ungate_pods.empty());

  // Pods of an older attempt prove nothing about this one: it still needs admission.
  job.status.attempt = 1;
  job.status.phase = api::JobPhase::kPending;
  EXPECT_TRUE(NeedsAdmission(job, {}));
  StatePlan stale = DecideNextState(Input(job, gated));
  EXPECT_NE(Cond(stale, "Admitted"), "True/GangAdmitted");
  EXPECT_TRUE(stale.create_ranks.empty());
}

TEST(TrainingJobStateTest, InvalidSpecFailsOnce) {
  api::TrainingJob job = MakeJob(2);
  StateInput in = Input(job, {});
  in.spec_errors = {{"spec.template.spec.containers[0].env[0].name", "\"RANK\" is set by Ringleader"}};
  StatePlan plan = DecideNextState(in);
  EXPECT_EQ(plan.status.phase, api::JobPhase::kFailed);
  EXPECT_EQ(Cond(plan, "Failed"), "True/InvalidSpec");
  EXPECT_NE(plan.status.message.find("RANK"), std::string::npos);
  EXPECT_TRUE(HasEvent(plan, "InvalidSpec"));
  EXPECT_FALSE(plan.requeue_after) << "never retried in a loop";
  in.job = After(job, plan);
  StatePlan again = DecideNextState(in);
  EXPECT_TRUE(again.events.empty());
  EXPECT_FALSE(again.requeue_after);
}

// Thousands of problems must not make a status the API server refuses (the job would never
// show Failed): the message keeps whole problems up to the CRD's bound and counts the rest.
TEST(TrainingJobStateTest, InvalidSpecMessageFitsTheStatusBounds) {
  api::TrainingJob job = MakeJob(2);
  StateInput in = Input(job, {});
  for (int i = 0; i < 2000; ++i) {
    in.spec_errors.push_back({"spec.template.spec.containers[0].env[" + std::to_string(i) + "].name",
                              "\"RINGLEADER_WORKER_RANK\" is set by Ringleader and may not be set in the template"});
  }
  StatePlan plan = DecideNextState(in);
  ASSERT_EQ(plan.status.phase, api::JobPhase::kFailed);
  EXPECT_TRUE(api::ValidateStatus(plan.status).empty()) << api::JoinFieldErrors(api::ValidateStatus(plan.status));
  EXPECT_LE(plan.status.message.size(), api::limits::kMaxStatusMessageLength);
  EXPECT_GT(plan.status.message.size(), api::limits::kMaxStatusMessageLength - 200) << "fills the room it has";
  EXPECT_EQ(plan.status.message.rfind("invalid spec: spec.template.spec.containers[0].env[0].name: ", 0), 0u);
  EXPECT_NE(plan.status.message.find(" more (ringleader validate lists them all)"), std::string::npos);
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_LE(plan.events[0].message.size(), 1024u);
  EXPECT_NE(plan.events[0].message.find("env[6].name: \"RINGLEADER_WORKER_RANK\" is set by Ringleader and may not be set in the template; and 1993 more"), std::string::npos) << plan.events[0].message;

  in.spec_errors.resize(2);  // a few problems: all listed, nothing about "more"
  StatePlan few = DecideNextState(in);
  EXPECT_EQ(few.status.message.find("more"), std::string::npos) << few.status.message;
  EXPECT_NE(few.status.message.find("env[1].name"), std::string::npos) << few.status.message;
}

TEST(TrainingJobStateTest, InvalidSpecHonoursTtlAfterFinished) {
  api::TrainingJob job = MakeJob(2, "Builtin", {{"ttlSecondsAfterFinished", 30}});
  StateInput in = Input(job, {});
  in.spec_errors = {{"spec.template.spec.containers[0].env[0].name", "\"RANK\" is set by Ringleader"}};
  StatePlan plan = DecideNextState(in);
  ASSERT_EQ(plan.status.phase, api::JobPhase::kFailed);
  EXPECT_FALSE(plan.delete_job);
  ASSERT_TRUE(plan.requeue_after) << "woken when the TTL expires";
  EXPECT_GE(*plan.requeue_after, milliseconds(29999));
  EXPECT_LE(*plan.requeue_after, milliseconds(30001));
  in.job = After(job, plan);
  in.now = kT0 + seconds(30);
  StatePlan expired = DecideNextState(in);
  EXPECT_TRUE(expired.delete_job);
  EXPECT_TRUE(expired.events.empty()) << "InvalidSpec is reported once";
}

TEST(TrainingJobStateTest, VolcanoCreatesPodGroupWithoutBuiltinAdmission) {
  api::TrainingJob job = MakeJob(2, "Volcano");
  EXPECT_FALSE(NeedsAdmission(job, {}));
  StatePlan plan = DecideNextState(Input(job, {}));
  EXPECT_TRUE(plan.create_podgroup);
  EXPECT_EQ(plan.create_ranks.size(), 2u);
  EXPECT_EQ(Cond(plan, "Admitted"), "True/GangAdmitted");
}

TEST(TrainingJobStateTest, StalePodsOfOldAttemptDeletedBeforeRecreate) {
  api::TrainingJob job = MakeJob(2);
  job.status.attempt = 1;
  job.status.phase = api::JobPhase::kPending;
  job.status.conditions.push_back({"Admitted", "True", "GangAdmitted", "", "2026-11-22T10:00:00Z", 2});
  auto stale = Pods(2, "Running", /*attempt=*/0);
  StatePlan plan = DecideNextState(Input(job, stale));
  EXPECT_EQ(plan.delete_pods.size(), 2u);
  EXPECT_TRUE(plan.create_ranks.empty()) << "same names: wait until the old pods are gone";
}

}  // namespace
}  // namespace ringleader::controller
