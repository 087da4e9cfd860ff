// The pure Kueue integration (kueue_workload.h): the Workload built for a job, the admission
// applied to its Pods, and DecideWithKueue walked through queueing, admission, PodsReady,
// preemption, resumption, Finished, a missing API, suspension and a changed spec.
#include "ringleader/policy/kueue_workload.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ringleader/common/rfc3339.h"
#include "ringleader/api/validation.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"

#include "observed_pods.h"

namespace ringleader::controller {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const auto kT0 = *ParseRfc3339("2026-11-22T10:00:00Z");

api::TrainingJob MakeJob(int workers = 2, json run_policy = json::object(), const std::string& queue = "team-a") {
  json j = {
      {"apiVersion", "ringleader.dev/v1alpha1"},
      {"kind", "TrainingJob"},
      {"metadata",
       {{"name", "demo"}, {"namespace", "ml"}, {"uid", "u1"}, {"generation", 1}, {"labels", json::object()}}},
      {"spec",
       {{"workers", workers},
        {"gang", {{"timeoutSeconds", 60}, {"priorityClassName", "high"}}},
        {"runPolicy", run_policy},
        {"template",
         {{"metadata", {{"labels", {{"team", "vision"}}}}},
          {"spec",
           {{"nodeSelector", {{"zone", "a"}}},
            {"containers",
             json::array({{{"name", "t"}, {"image", "i"}, {"resources", {{"requests", {{"cpu", "2"}}}}}}})}}}}}}}};
  if (!queue.empty()) j["metadata"]["labels"][kKueueQueueNameLabel] = queue;
  auto job = api::ParseTrainingJob(j);
  EXPECT_TRUE(job.ok()) << job.status().ToString();
  return *job;
}

using testing::Pod;
using testing::Exited;
using testing::Pods;

StateInput Input(const api::TrainingJob& job, std::vector<ObservedPod> pods, std::chrono::seconds at = seconds(0)) {
  StateInput in;
  in.job = job;
  in.pods = std::move(pods);
  in.service_exists = true;
  in.podgroup_exists = true;
  in.now = kT0 + at;
  return in;
}

json Condition(const std::string& type, const std::string& status, const std::string& reason,
               const std::string& message = "m") {
  return {{"type", type},
          {"status", status},
          {"reason", reason},
          {"message", message},
          {"lastTransitionTime", "2026-11-22T09:00:00Z"}};
}

// A Workload as Kueue leaves it: pending, admitted or evicted.
json WorkloadObject(const api::TrainingJob& job, const std::string& state) {
  json wl = BuildWorkload(job, 1000);
  wl["metadata"]["uid"] = "w1";
  wl["metadata"]["resourceVersion"] = "7";
  wl["metadata"]["generation"] = 1;
  json conditions = json::array();
  if (state == "pending") {
    conditions.push_back(Condition("QuotaReserved", "False", "Pending",
                                   "couldn't assign flavors to pod set workers: insufficient unused quota for cpu "
                                   "in flavor a100, 4 more needed"));
  } else {
    conditions.push_back(Condition("QuotaReserved", "True", "QuotaReserved", "Quota reserved in ClusterQueue cq"));
    conditions.push_back(Condition("Admitted", "True", "Admitted", "The workload is admitted"));
    wl["status"]["admission"] = {{"clusterQueue", "cq"},
                                 {"podSetAssignments", json::array({{{"name", "workers"},
                                                                     {"flavors", {{"cpu", "a100"}}},
                                                                     {"resourceUsage", {{"cpu", "4"}}},
                                                                     {"count", 2}}})}};
    if (state == "evicted") {
      conditions.push_back(Condition("Evicted", "True", "Preempted", "Preempted to accommodate a workload"));
      conditions.push_back(Condition("Preempted", "True", "InClusterQueue", "Preempted to accommodate a workload"));
    }
  }
  wl["status"]["conditions"] = conditions;
  return wl;
}

KueueInput Kueue(const api::TrainingJob& job, std::optional<json> workload) {
  KueueInput in;
  in.queue = "team-a";
  in.cluster_queue = "cq";
  in.expected_spec_hash = WorkloadSpecHash(job);
  if (workload) in.workload = ReadWorkload(*workload);
  return in;
}

api::TrainingJob After(api::TrainingJob job, const KueuePlan& plan) {
  job.status = plan.state.status;
  return job;
}

std::string Cond(const KueuePlan& plan, const std::string& type) {
  const api::Condition* c = FindCondition(plan.state.status.conditions, type);
  return c ? c->status + "/" + c->reason : "-";
}

std::string WlCond(const json& status, const std::string& type) {
  for (const json& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == type) return c.value("status", "") + "/" + c.value("reason", "");
  }
  return "-";
}

bool HasEvent(const KueuePlan& plan, const std::string& reason) {
  return std::any_of(plan.state.events.begin(), plan.state.events.end(),
                     [&](const JobEvent& e) { return e.reason == reason; });
}

TEST(KueueWorkloadTest, BuildsOneWorkerPodSetOwnedByTheJob) {
  api::TrainingJob job = MakeJob(4);
  json wl = BuildWorkload(job, 1000);
  EXPECT_EQ(wl["apiVersion"], "kueue.x-k8s.io/v1beta2");
  EXPECT_EQ(wl["kind"], "Workload");
  EXPECT_EQ(wl["metadata"]["name"], WorkloadName(job));
  EXPECT_EQ(wl["metadata"]["namespace"], "ml");
  EXPECT_EQ(wl["metadata"]["labels"][kJobNameLabel], "demo");
  EXPECT_EQ(wl["metadata"]["labels"][kKueueJobUidLabel], "u1");
  EXPECT_EQ(wl["metadata"]["annotations"][kWorkloadSpecHashAnnotation], WorkloadSpecHash(job));
  EXPECT_EQ(wl["metadata"]["ownerReferences"], json::array({OwnerReference(job)}));
  EXPECT_EQ(wl["spec"]["queueName"], "team-a");
  EXPECT_EQ(wl["spec"]["priority"], 1000);
  EXPECT_EQ(wl["spec"]["priorityClassRef"],
            json({{"group", "scheduling.k8s.io"}, {"kind", "PriorityClass"}, {"name", "high"}}));
  ASSERT_EQ(wl["spec"]["podSets"].size(), 1u);
  const json& ps = wl["spec"]["podSets"][0];
  EXPECT_EQ(ps["name"], "workers");
  EXPECT_EQ(ps["count"], 4);
  // The Pod the operator creates, less what names one Pod and the operator's own gate.
  const json pod = BuildWorkerPod(job, 0, 0);
  EXPECT_EQ(ps["template"]["spec"]["containers"][0]["resources"], pod["spec"]["containers"][0]["resources"]);
  EXPECT_EQ(ps["template"]["spec"]["nodeSelector"], json({{"zone", "a"}}));
  EXPECT_EQ(ps["template"]["spec"]["priorityClassName"], "high");
  EXPECT_EQ(ps["template"]["metadata"]["labels"]["team"], "vision");
  EXPECT_FALSE(ps["template"]["metadata"]["labels"].contains(kRankLabel));
  EXPECT_FALSE(ps["template"]["metadata"]["labels"].contains(kAttemptLabel));
  EXPECT_FALSE(ps["template"]["spec"].contains("schedulingGates"));
  EXPECT_FALSE(ps["template"]["metadata"].contains("name"));

  // No priority class: no priorityClassRef and no priority.
  api::TrainingJob plain = job;
  plain.spec.gang.priority_class_name.clear();
  json unprioritized = BuildWorkload(plain, std::nullopt);
  EXPECT_FALSE(unprioritized["spec"].contains("priorityClassRef"));
  EXPECT_FALSE(unprioritized["spec"].contains("priority"));
}

TEST(KueueWorkloadTest, NamesAndHashes) {
  api::TrainingJob job = MakeJob();
  EXPECT_EQ(WorkloadName(job).rfind("trainingjob-demo-", 0), 0u);
  EXPECT_EQ(WorkloadName(job).size(), std::string("trainingjob-demo-").size() + 5);
  api::TrainingJob other = job;
  other.metadata.uid = "u2";
  EXPECT_NE(WorkloadName(job), WorkloadName(other));  // a recreated job gets a new Workload
  other.metadata.name = std::string(300, 'x');
  EXPECT_LE(WorkloadName(other).size(), 253u);
  EXPECT_EQ(KueueQueueName(job), "team-a");
  EXPECT_FALSE(IsKueueManaged(MakeJob(2, json::object(), "")));
  // The hash follows what the pod set is built from, and only that.
  api::TrainingJob wider = job;
  wider.spec.workers = 3;
  EXPECT_NE(WorkloadSpecHash(wider), WorkloadSpecHash(job));
  api::TrainingJob moved = job;
  moved.metadata.labels[kKueueQueueNameLabel] = "team-b";
  EXPECT_NE(WorkloadSpecHash(moved), WorkloadSpecHash(job));
  api::TrainingJob restarted = job;
  restarted.status.attempt = 3;
  EXPECT_EQ(WorkloadSpecHash(restarted), WorkloadSpecHash(job));
}

TEST(KueueWorkloadTest, ReadsTheAdmission) {
  api::TrainingJob job = MakeJob();
  WorkloadView wl = ReadWorkload(WorkloadObject(job, "admitted"));
  EXPECT_EQ(wl.uid, "w1");
  EXPECT_EQ(wl.resource_version, "7");
  EXPECT_TRUE(wl.QuotaReserved());
  EXPECT_TRUE(wl.Admitted());
  EXPECT_FALSE(wl.Evicted());
  EXPECT_EQ(wl.cluster_queue, "cq");
  ASSERT_EQ(wl.assignments.size(), 1u);
  EXPECT_EQ(wl.assignments[0].flavors.at("cpu"), "a100");
  EXPECT_EQ(wl.assignments[0].count, 2);
  EXPECT_EQ(wl.FlavorsText(), "cpu=a100");
  EXPECT_EQ(wl.spec_hash, WorkloadSpecHash(job));
  EXPECT_TRUE(ReadWorkload(WorkloadObject(job, "evicted")).Evicted());
}

TEST(KueueWorkloadTest, PlacementIsTheFlavorsNodeLabelsAndTolerations) {
  api::TrainingJob job = MakeJob();
  json wl = WorkloadObject(job, "admitted");
  wl["status"]["admission"]["podSetAssignments"][0]["flavors"] = {{"cpu", "a100"}, {"nvidia.com/gpu", "spot"}};
  json toleration = {{"key", "spot"}, {"operator", "Exists"}, {"effect", "NoSchedule"}};
  std::map<std::string, json> flavors = {
      {"a100", {{"spec", {{"nodeLabels", {{"gpu", "a100"}, {"pool", "reserved"}}}}}}},
      {"spot", {{"spec", {{"nodeLabels", {{"pool", "spot"}}}, {"tolerations", json::array({toleration})}}}}}};
  auto placement = PlacementFor(ReadWorkload(wl), flavors);
  ASSERT_TRUE(placement.ok()) << placement.status().ToString();
  // The first flavor (by resource name) keeps a key (Kueue's MergeKeepFirst).
  EXPECT_EQ(placement->node_selector, (std::map<std::string, std::string>{{"gpu", "a100"}, {"pool", "reserved"}}));
  EXPECT_EQ(placement->tolerations, json::array({toleration}));
  EXPECT_EQ(placement->labels.at(kKueuePodSetLabel), "workers");

  json pod = BuildWorkerPod(job, 1, 0);
  ASSERT_TRUE(ApplyPlacement(*placement, pod).ok());
  EXPECT_EQ(pod["spec"]["nodeSelector"], json({{"gpu", "a100"}, {"pool", "reserved"}, {"zone", "a"}}));
  EXPECT_EQ(pod["spec"]["tolerations"], json::array({toleration}));
  EXPECT_EQ(pod["metadata"]["labels"][kKueuePodSetLabel], "workers");
  EXPECT_EQ(pod["metadata"]["labels"][kRankLabel], "1");
  ASSERT_TRUE(ApplyPlacement(*placement, pod).ok());  // idempotent: tolerations once
  EXPECT_EQ(pod["spec"]["tolerations"].size(), 1u);

  // A Pod that pins the key to another value conflicts (Kueue: podset.Merge fails).
  json pinned = BuildWorkerPod(job, 0, 0);
  pinned["spec"]["nodeSelector"]["gpu"] = "h100";
  EXPECT_FALSE(ApplyPlacement(*placement, pinned).ok());

  // A flavor that cannot be read is an error, not an empty placement.
  flavors.erase("spot");
  EXPECT_EQ(PlacementFor(ReadWorkload(wl), flavors).status().code(), StatusCode::kNotFound);
}

TEST(KueueWorkloadTest, AdmissionChecksPodSetUpdatesAreMerged) {
  api::TrainingJob job = MakeJob();
  json wl = WorkloadObject(job, "admitted");
  wl["status"]["admissionChecks"] = json::array(
      {{{"name", "prov"},
        {"state", "Ready"},
        {"podSetUpdates",
         json::array({{{"name", "workers"},
                       {"nodeSelector", {{"autoscaling.x-k8s.io/provisioning-class", "queued"}}},
                       {"annotations", {{"cluster-autoscaler.kubernetes.io/consume-provisioning-request", "p"}}}}})}}});
  std::map<std::string, json> flavors = {{"a100", {{"spec", {{"nodeLabels", {{"gpu", "a100"}}}}}}}};
  auto placement = PlacementFor(ReadWorkload(wl), flavors);
  ASSERT_TRUE(placement.ok());
  EXPECT_EQ(placement->node_selector.at("autoscaling.x-k8s.io/provisioning-class"), "queued");
  EXPECT_EQ(placement->node_selector.at("gpu"), "a100");
  EXPECT_EQ(placement->annotations.size(), 1u);
  // An update that contradicts the flavor is an error.
  wl["status"]["admissionChecks"][0]["podSetUpdates"][0]["nodeSelector"]["gpu"] = "h100";
  EXPECT_FALSE(PlacementFor(ReadWorkload(wl), flavors).ok());
}

TEST(KueueDecisionTest, NoWorkloadYetCreatesOneAndQueuesWithoutPods) {
  api::TrainingJob job = MakeJob();
  KueuePlan plan = DecideWithKueue(Input(job, {}), Kueue(job, std::nullopt));
  EXPECT_TRUE(plan.create_workload);
  EXPECT_FALSE(plan.delete_workload);
  EXPECT_FALSE(plan.workload_status);
  EXPECT_TRUE(plan.state.create_ranks.empty());
  EXPECT_FALSE(plan.state.create_service);
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kQueued);
  EXPECT_EQ(plan.state.status.message, "queued in LocalQueue team-a (ClusterQueue cq)");
  EXPECT_EQ(Cond(plan, "Admitted"), "False/Queued");
  EXPECT_EQ(plan.state.status.ready, "0/2");
  EXPECT_FALSE(NeedsAdmission(job, {}));  // no Builtin capacity check for Kueue's jobs
}

TEST(KueueDecisionTest, PendingWorkloadSaysWhyInTheQueuedMessage) {
  api::TrainingJob job = MakeJob();
  KueueInput kq = Kueue(job, WorkloadObject(job, "pending"));
  KueuePlan plan = DecideWithKueue(Input(job, {}), kq);
  EXPECT_FALSE(plan.create_workload);
  EXPECT_TRUE(plan.state.create_ranks.empty());
  EXPECT_EQ(plan.state.status.message,
            "queued in LocalQueue team-a (ClusterQueue cq): couldn't assign flavors to pod set workers: insufficient "
            "unused quota for cpu in flavor a100, 4 more needed");
  // Level-based: deciding again from the written status changes nothing.
  KueuePlan again = DecideWithKueue(Input(After(job, plan), {}, seconds(5)), kq);
  EXPECT_EQ(again.state.status, plan.state.status);
  EXPECT_TRUE(again.state.events.empty());

  // A LocalQueue that does not exist: Kueue says so in QuotaReserved; without that message the
  // operator's own look-up does.
  kq.workload->conditions.clear();
  kq.cluster_queue.clear();
  kq.queue_problem = "LocalQueue team-a does not exist in namespace ml";
  EXPECT_EQ(DecideWithKueue(Input(job, {}), kq).state.status.message,
            "queued in LocalQueue team-a: LocalQueue team-a does not exist in namespace ml");
}

TEST(KueueDecisionTest, AdmissionStartsTheGangAndPodsReadyIsReported) {
  api::TrainingJob job = MakeJob();
  KueueInput kq = Kueue(job, WorkloadObject(job, "admitted"));
  KueuePlan plan = DecideWithKueue(Input(job, {}), kq);
  EXPECT_EQ(plan.state.create_ranks, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kScheduling);
  EXPECT_EQ(Cond(plan, "Admitted"), "True/KueueAdmitted");
  EXPECT_EQ(FindCondition(plan.state.status.conditions, "Admitted")->message,
            "admitted by ClusterQueue cq (flavors: cpu=a100)");
  EXPECT_TRUE(HasEvent(plan, "KueueAdmitted"));
  ASSERT_TRUE(plan.workload_status);
  EXPECT_EQ(WlCond(*plan.workload_status, "PodsReady"), "False/WaitForStart");

  // Pods gated, then released, then Running and Ready: PodsReady=True/Started.
  job = After(job, plan);
  auto gated = Pods(2, "Pending");
  for (auto& p : gated) p.gated = true;
  kq.workload->status = *plan.workload_status;
  kq.workload->conditions["PodsReady"] = {"False", "WaitForStart", ""};
  plan = DecideWithKueue(Input(job, gated, seconds(1)), kq);
  EXPECT_EQ(plan.state.ungate_pods.size(), 2u);
  EXPECT_FALSE(plan.workload_status);  // PodsReady unchanged: nothing to write
  EXPECT_FALSE(HasEvent(plan, "KueueAdmitted"));
  job = After(job, plan);
  plan = DecideWithKueue(Input(job, Pods(2, "Running"), seconds(2)), kq);
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kRunning);
  ASSERT_TRUE(plan.workload_status);
  EXPECT_EQ(WlCond(*plan.workload_status, "PodsReady"), "True/Started");
}

TEST(KueueDecisionTest, RestartsKeepTheAdmission) {
  api::TrainingJob job = MakeJob(2, {{"backoffLimit", 3}});
  KueueInput kq = Kueue(job, WorkloadObject(job, "admitted"));
  job = After(job, DecideWithKueue(Input(job, {}), kq));
  job = After(job, DecideWithKueue(Input(job, Pods(2, "Running"), seconds(1)), kq));
  auto failed = Pods(2, "Running");
  Exited(failed[1], 137);
  KueuePlan plan = DecideWithKueue(Input(job, failed, seconds(2)), kq);
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kRestarting);
  EXPECT_EQ(plan.state.status.restarts, 1);
  EXPECT_EQ(Cond(plan, "Admitted"), "True/KueueAdmitted");
  job = After(job, plan);
  // Backoff over, pods gone: the next attempt starts at once, still admitted, no new event.
  plan = DecideWithKueue(Input(job, {}, seconds(60)), kq);
  job = After(job, plan);
  plan = DecideWithKueue(Input(job, {}, seconds(61)), kq);
  EXPECT_EQ(plan.state.status.attempt, 1);
  EXPECT_EQ(plan.state.create_ranks.size(), 2u);
  EXPECT_EQ(Cond(plan, "Admitted"), "True/KueueAdmitted");
  EXPECT_FALSE(HasEvent(plan, "KueueAdmitted"));
}

TEST(KueueDecisionTest, EvictionStopsTheGangGivesTheQuotaBackAndResumesAsANewAttempt) {
  api::TrainingJob job = MakeJob(2, {{"backoffLimit", 0}});
  KueueInput admitted = Kueue(job, WorkloadObject(job, "admitted"));
  job = After(job, DecideWithKueue(Input(job, {}), admitted));
  job = After(job, DecideWithKueue(Input(job, Pods(2, "Running"), seconds(1)), admitted));  // all created
  job = After(job, DecideWithKueue(Input(job, Pods(2, "Running"), seconds(2)), admitted));  // all running
  ASSERT_EQ(job.status.phase, api::JobPhase::kRunning);

  // Preempted: every Pod is deleted (with its grace period: the reconciler's plain delete),
  // the job goes back to Queued and says why, once.
  KueueInput evicted = Kueue(job, WorkloadObject(job, "evicted"));
  KueuePlan plan = DecideWithKueue(Input(job, Pods(2, "Running"), seconds(10)), evicted);
  EXPECT_EQ(plan.state.delete_pods, (std::vector<std::string>{"demo-worker-0", "demo-worker-1"}));
  EXPECT_TRUE(plan.state.create_ranks.empty());
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kQueued);
  EXPECT_EQ(Cond(plan, "Admitted"), "False/Evicted");
  EXPECT_EQ(plan.state.status.message,
            "evicted by Kueue (Preempted): Preempted to accommodate a workload; stopping the workers");
  EXPECT_EQ(Cond(plan, "Running"), "False/Evicted");
  EXPECT_EQ(plan.state.status.ready, "0/2");
  EXPECT_TRUE(HasEvent(plan, "Evicted"));
  EXPECT_FALSE(plan.workload_status);  // the quota is given back only once no Pod is left
  EXPECT_EQ(plan.state.status.restarts, 0);
  job = After(job, plan);

  // Pods terminating: nothing new, no second event.
  auto terminating = Pods(2, "Running");
  for (auto& p : terminating) p.terminating = true;
  plan = DecideWithKueue(Input(job, terminating, seconds(11)), evicted);
  EXPECT_TRUE(plan.state.delete_pods.empty());
  EXPECT_FALSE(HasEvent(plan, "Evicted"));
  EXPECT_FALSE(plan.workload_status);
  job = After(job, plan);

  // All gone: the quota goes back as Kueue's integrations give it back, and the next
  // admission will run attempt 1. Not a restart: backoffLimit 0 is not exceeded.
  plan = DecideWithKueue(Input(job, {}, seconds(12)), evicted);
  ASSERT_TRUE(plan.workload_status);
  const json& st = *plan.workload_status;
  EXPECT_FALSE(st.contains("admission"));
  EXPECT_EQ(WlCond(st, "QuotaReserved"), "False/Pending");
  EXPECT_EQ(WlCond(st, "Admitted"), "False/NoReservation");
  EXPECT_EQ(WlCond(st, "Requeued"), "True/Preempted");
  EXPECT_EQ(WlCond(st, "Evicted"), "True/Preempted");  // Kueue resets it on the next admission
  EXPECT_TRUE(HasEvent(plan, "Requeued"));
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kQueued);
  EXPECT_EQ(plan.state.status.attempt, 1);
  EXPECT_EQ(plan.state.status.restarts, 0);
  EXPECT_EQ(plan.state.status.start_time, "");
  EXPECT_EQ(Cond(plan, "GangScheduled"), "Unknown/NewAttempt");
  EXPECT_EQ(plan.state.status.message,
            "evicted by Kueue (Preempted): Preempted to accommodate a workload; queued in LocalQueue team-a "
            "(ClusterQueue cq) to be admitted again");
  job = After(job, plan);

  // Kueue has taken the quota back (the status update): the job stays Queued, nothing to write.
  json requeued = WorkloadObject(job, "evicted");
  requeued["status"] = st;
  KueueInput waiting = Kueue(job, requeued);
  plan = DecideWithKueue(Input(job, {}, seconds(13)), waiting);
  EXPECT_FALSE(plan.workload_status);
  EXPECT_EQ(plan.state.status, job.status);
  EXPECT_TRUE(plan.state.events.empty());

  // Admitted again: attempt 1's Pods.
  plan = DecideWithKueue(Input(job, {}, seconds(30)), admitted);
  EXPECT_EQ(plan.state.create_ranks.size(), 2u);
  EXPECT_EQ(plan.state.status.attempt, 1);
  EXPECT_EQ(Cond(plan, "Admitted"), "True/KueueAdmitted");
  EXPECT_TRUE(HasEvent(plan, "KueueAdmitted"));
}

TEST(KueueDecisionTest, AdmissionRemovedWithoutEvictionAlsoStopsTheGang) {
  api::TrainingJob job = MakeJob();
  KueueInput admitted = Kueue(job, WorkloadObject(job, "admitted"));
  job = After(job, DecideWithKueue(Input(job, {}), admitted));
  KueuePlan plan =
      DecideWithKueue(Input(job, Pods(2, "Running"), seconds(1)), Kueue(job, WorkloadObject(job, "pending")));
  EXPECT_EQ(plan.state.delete_pods.size(), 2u);
  EXPECT_EQ(Cond(plan, "Admitted"), "False/Evicted");
  EXPECT_EQ(plan.state.status.message,
            "evicted by Kueue (AdmissionRemoved): the Workload's admission was removed; stopping the workers");
}

TEST(KueueDecisionTest, FinishedJobFinishesItsWorkload) {
  api::TrainingJob job = MakeJob();
  KueueInput kq = Kueue(job, WorkloadObject(job, "admitted"));
  job = After(job, DecideWithKueue(Input(job, {}), kq));
  job = After(job, DecideWithKueue(Input(job, Pods(2, "Running"), seconds(1)), kq));
  KueuePlan plan = DecideWithKueue(Input(job, Pods(2, "Succeeded"), seconds(5)), kq);
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kSucceeded);
  ASSERT_TRUE(plan.workload_status);
  EXPECT_EQ(WlCond(*plan.workload_status, "Finished"), "True/Succeeded");

  // Failed jobs too (here: invalid spec, with a Workload from earlier).
  api::TrainingJob broken = MakeJob();
  StateInput in = Input(broken, {});
  in.spec_errors.push_back({"spec.workers", "must be at least 1"});
  plan = DecideWithKueue(in, Kueue(broken, WorkloadObject(broken, "pending")));
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kFailed);
  ASSERT_TRUE(plan.workload_status);
  EXPECT_EQ(WlCond(*plan.workload_status, "Finished"), "True/Failed");
}

TEST(KueueDecisionTest, MissingApiIsAConditionNotAnErrorLoop) {
  api::TrainingJob job = MakeJob();
  KueueInput kq;
  kq.queue = "team-a";
  kq.unavailable = "Kueue's Workload API is not served";
  KueuePlan plan = DecideWithKueue(Input(job, {}), kq);
  EXPECT_FALSE(plan.create_workload);
  EXPECT_TRUE(plan.state.create_ranks.empty());
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kPending);
  EXPECT_EQ(plan.state.status.message, "Kueue's Workload API is not served");
  EXPECT_EQ(Cond(plan, "Admitted"), "False/KueueCRDMissing");
  EXPECT_TRUE(HasEvent(plan, "KueueCRDMissing"));
  EXPECT_EQ(plan.state.requeue_after, std::chrono::milliseconds(seconds(60)));
  // Once said, not said again.
  KueuePlan again = DecideWithKueue(Input(After(job, plan), {}, seconds(60)), kq);
  EXPECT_TRUE(again.state.events.empty());
  EXPECT_EQ(again.state.status, plan.state.status);
}

TEST(KueueDecisionTest, SuspendDeletesTheWorkloadAndResumeQueuesANewOne) {
  api::TrainingJob job = MakeJob();
  KueueInput kq = Kueue(job, WorkloadObject(job, "admitted"));
  job = After(job, DecideWithKueue(Input(job, {}), kq));
  job = After(job, DecideWithKueue(Input(job, Pods(2, "Running"), seconds(1)), kq));
  job.spec.run_policy.suspend = true;
  KueuePlan plan = DecideWithKueue(Input(job, Pods(2, "Running"), seconds(2)), kq);
  EXPECT_TRUE(plan.delete_workload);
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kSuspended);
  EXPECT_EQ(plan.state.delete_pods.size(), 2u);
  job = After(job, plan);
  job.spec.run_policy.suspend = false;
  plan = DecideWithKueue(Input(job, {}, seconds(3)), Kueue(job, std::nullopt));
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kQueued);
  EXPECT_EQ(plan.state.status.attempt, 1);
  EXPECT_TRUE(plan.create_workload);
  EXPECT_TRUE(plan.state.create_ranks.empty());
}

TEST(KueueDecisionTest, ChangedSpecReplacesAQueuedWorkload) {
  api::TrainingJob job = MakeJob();
  KueueInput kq = Kueue(job, WorkloadObject(job, "pending"));
  job.spec.workers = 4;  // the Workload's pod set says 2
  kq.expected_spec_hash = WorkloadSpecHash(job);
  KueuePlan plan = DecideWithKueue(Input(job, {}), kq);
  EXPECT_TRUE(plan.delete_workload);
  EXPECT_FALSE(plan.create_workload);  // next pass, once the old one is gone
  EXPECT_EQ(plan.state.status.phase, api::JobPhase::kQueued);
  EXPECT_EQ(plan.state.status.message,
            "queued in LocalQueue team-a (ClusterQueue cq): the job's spec changed: its Workload is replaced");
  // An admitted Workload from an older spec keeps its running gang.
  KueueInput running = Kueue(job, WorkloadObject(MakeJob(), "admitted"));
  running.expected_spec_hash = WorkloadSpecHash(job);
  job.status.phase = api::JobPhase::kRunning;
  plan = DecideWithKueue(Input(job, Pods(2, "Running")), running);
  EXPECT_FALSE(plan.delete_workload);
  EXPECT_TRUE(plan.state.delete_pods.empty());
}

TEST(KueueWorkloadTest, SetWorkloadConditionKeepsTransitionTimeWhileStatusHolds) {
  json status = json::object();
  EXPECT_TRUE(SetWorkloadCondition(status, "PodsReady", "False", "WaitForStart", "m", "t1", 1));
  EXPECT_FALSE(SetWorkloadCondition(status, "PodsReady", "False", "WaitForStart", "m", "t2", 1));
  EXPECT_TRUE(SetWorkloadCondition(status, "PodsReady", "False", "WaitForRecovery", "m2", "t3", 1));
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "t1");
  EXPECT_TRUE(SetWorkloadCondition(status, "PodsReady", "True", "Started", "m3", "t4", 2));
  EXPECT_EQ(status["conditions"][0]["lastTransitionTime"], "t4");
  EXPECT_EQ(status["conditions"][0]["observedGeneration"], 2);
}

}  // namespace
}  // namespace ringleader::controller
