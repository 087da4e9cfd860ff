#include "ringleader/controller/trainingjob_reconciler.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "ringleader/api/codec.h"
#include "ringleader/api/resources.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/api/validation.h"
#include "ringleader/api/worker_env_builder.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/common/metrics.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"
#include "ringleader/policy/observed_pod.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;
using kube::ReconcileResult;
using std::chrono::milliseconds;

namespace {

using json_fields::MetadataString;

}  // namespace

TrainingJobReconciler::TrainingJobReconciler(kube::Client& client, ReconcilerCaches caches,
                                             kube::EventRecorder* events, ReconcilerOptions options)
    : client_(client),
      caches_(std::move(caches)),
      events_(events),
      options_(std::move(options)),
      expectations_(options_.expectations_timeout),
      pending_writes_(options_.expectations_timeout),
      write_pool_(options_.write_parallelism - 1) {
  metrics::Registry& registry = options_.registry ? *options_.registry : metrics::Registry::Default();
  pods_created_ = &registry.AddCounter("ringleader_pods_created_total", "Worker pods created by the operator.").Get();
  restarts_ = &registry.AddCounter("ringleader_job_restarts_total", "Gang restarts begun by the operator.").Get();
  admission_wait_ = &registry
                         .AddHistogram("ringleader_gang_admission_wait_seconds",
                                       "Time from a gang attempt waiting for admission to its admission.", {},
                                       metrics::ExponentialBuckets(0.01, 4, 10))
                         .Get();
}

std::chrono::system_clock::time_point TrainingJobReconciler::Now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

ObjectPtr TrainingJobReconciler::FindJob(const std::string& key) const {
  for (const kube::Cache* cache : caches_.jobs) {
    if (ObjectPtr job = cache->Get(key)) return job;
  }
  return nullptr;
}

ObjectPtr TrainingJobReconciler::FindPod(const std::string& ns, const std::string& name) const {
  for (const kube::Cache* cache : caches_.pods) {
    if (ObjectPtr pod = cache->Get(ns, name)) return pod;
  }
  return nullptr;
}

std::vector<ObjectPtr> TrainingJobReconciler::PodsOwnedBy(const std::string& uid) const {
  std::vector<ObjectPtr> out;
  for (const kube::Cache* cache : caches_.pods) {
    auto pods = cache->ByIndex(kube::kOwnerUidIndex, uid);
    out.insert(out.end(), pods.begin(), pods.end());
  }
  return out;
}

LostNodes TrainingJobReconciler::LostNodesOf(const std::vector<ObservedPod>& pods) const {
  LostNodes lost;
  if (caches_.nodes == nullptr) return lost;  // not allowed to read nodes: DisruptionTarget only
  for (const ObservedPod& p : pods) {
    if (p.node_name.empty() || lost.count(p.node_name)) continue;
    // A node missing from the cache is not called lost: it may be new and not yet seen (a false
    // NodeLost restarts a healthy gang); a deleted node's pods are removed by the pod GC.
    ObjectPtr node = caches_.nodes->Get("", p.node_name);
    if (node == nullptr) continue;
    NodeHealth health = NodeHealthFromJson(*node);
    if (health.lost) lost[p.node_name] = std::move(health);
  }
  return lost;
}

bool TrainingJobReconciler::ServiceExists(const std::string& ns, const std::string& name) const {
  for (const kube::Cache* cache : caches_.services) {
    if (cache->Get(ns, name)) return true;
  }
  return false;
}

kube::EventHandlers TrainingJobReconciler::PodExpectationHandlers() {
  kube::EventHandlers handlers;
  handlers.on_add = [this](const ObjectPtr& pod) {
    std::string owner = kube::ControllerOwnerKey(*pod, api::kKind, api::kGroup);
    if (!owner.empty()) expectations_.CreationObserved(owner, MetadataString(*pod, "name"));
  };
  return handlers;
}

void TrainingJobReconciler::Pass::RecordFailure(const char* action, const Status& status) {
  if (status.ok() || !write_error.ok()) return;
  write_error = status;
  failed_action = action;
}

std::optional<ReconcileResult> TrainingJobReconciler::WaitForOwnWrites(const std::string& key, const Json& object) {
  if (pending_writes_.StatusNotYetSeen(key, MetadataString(object, "resourceVersion"))) {
    // Deciding from the status our last write replaced would repeat that decision (and its
    // write would fail with 409); the job's update event requeues it as soon as the cache
    // shows the write. The requeue guards against a lost event.
    SPDLOG_DEBUG("trainingjob={} waiting for the job cache to show our status write", key);
    return ReconcileResult::RequeueAfter(std::chrono::seconds(1));
  }
  if (!expectations_.Satisfied(key)) {
    // Pod add events lower the expectation and requeue the job; the timeout guards against
    // a lost event.
    SPDLOG_DEBUG("trainingjob={} waiting for the pod cache ({} pods pending)", key, expectations_.Pending(key));
    return ReconcileResult::RequeueAfter(std::chrono::duration_cast<kube::Duration>(options_.expectations_timeout));
  }
  return std::nullopt;
}

void TrainingJobReconciler::ReadChildren(Pass& pass) {
  StateInput& input = pass.input;
  const api::TrainingJob& job = input.job;
  input.now = Now();
  std::vector<ObjectPtr> owned = PodsOwnedBy(job.metadata.uid);
  for (const ObjectPtr& pod : owned) input.pods.push_back(ObservePod(*pod));
  {  // Gates this operator removed count as removed before the pod cache shows it.
    std::set<std::string> gated_uids;
    for (size_t i = 0; i < owned.size(); ++i) {
      if (input.pods[i].gated) gated_uids.insert(MetadataString(*owned[i], "uid"));
    }
    std::set<std::string> removed = pending_writes_.GateRemovalsNotYetSeen(pass.key, gated_uids);
    for (size_t i = 0; i < owned.size() && !removed.empty(); ++i) {
      if (input.pods[i].gated && removed.count(MetadataString(*owned[i], "uid"))) input.pods[i].gated = false;
    }
  }
  input.lost_nodes = LostNodesOf(input.pods);
  input.service_exists = ServiceExists(job.metadata.namespace_, job.metadata.name);
  // PodGroups are not watched (their CRDs may be absent): pods of this attempt exist only
  // after its PodGroup create succeeded, so they prove it and spare a POST per pass.
  input.podgroup_exists = std::any_of(input.pods.begin(), input.pods.end(),
                                      [&](const ObservedPod& p) { return p.attempt == job.status.attempt; });

  // Jobs labelled kueue.x-k8s.io/queue-name wait for Kueue's admission (kueue_workload.h).
  pass.kueue_managed = IsKueueManaged(job);
  if (pass.kueue_managed && caches_.kueue != nullptr) {
    pass.kueue = caches_.kueue->Observe(job);
  } else if (pass.kueue_managed) {
    pass.kueue.queue = KueueQueueName(job);
    pass.kueue.unavailable = "this operator runs without its Kueue integration";
  }

  if (input.spec_errors.empty() && NeedsAdmission(job, input.pods)) {
    // One check at a time; a gang admitted here stays reserved in admitted_ until the job
    // cache shows it Admitted, so the lock need not be held while its pods are created.
    std::lock_guard<std::mutex> admission_lock(admission_mu_);
    input.admission = CheckAdmission(job);
  }
}

KueuePlan TrainingJobReconciler::Decide(const Pass& pass) const {
  return pass.kueue_managed ? DecideWithKueue(pass.input, pass.kueue, options_.state)
                            : KueuePlan{DecideNextState(pass.input, options_.state)};
}

ReconcileResult TrainingJobReconciler::DeleteExpiredJob(const Pass& pass) {
  const api::TrainingJob& job = pass.input.job;
  kube::DeleteOptions options;
  options.propagation_policy = "Background";
  options.precondition_uid = job.metadata.uid;
  auto result = client_.Delete(kube::TrainingJobsResource(), job.metadata.namespace_, job.metadata.name, options);
  if (!result.ok() && !result.IsNotFound() && !result.IsConflict()) return ReconcileResult::Error(result.status());
  spdlog::info("trainingjob={} deleted: ttlSecondsAfterFinished={} expired", pass.key,
               job.spec.run_policy.ttl_seconds_after_finished.value_or(0));
  return ReconcileResult::Done();
}

ReconcileResult TrainingJobReconciler::Reconcile(const std::string& key) {
  Pass pass;
  pass.key = key;
  pass.object = FindJob(key);
  if (!pass.object) {
    // Deleted: the API server's garbage collector removes the children (ownerReferences).
    expectations_.Forget(key);
    pending_writes_.Forget(key);
    return ReconcileResult::Done();
  }
  if (auto wait = WaitForOwnWrites(key, *pass.object)) return *wait;
  pass.input.job = api::ParseTrainingJob(*pass.object, &pass.input.spec_errors);
  if (pass.input.job.metadata.deletion_timestamp) return ReconcileResult::Done();  // finalizers are not ours

  ReadChildren(pass);
  pass.decided = Decide(pass);
  if (pass.decided.state.delete_job) return DeleteExpiredJob(pass);

  CreatePodGroup(pass);
  CreateServiceAndPods(pass);
  DeletePods(pass);
  UngatePods(pass);
  // The Workload side (create, delete, quota given back, PodsReady, Finished), before the
  // status that reports it: a status update that fails is decided again from the same view.
  if (auto requeue = SyncKueueWorkload(pass)) return *requeue;
  return WriteStatus(pass);
}

ReconcileResult TrainingJobReconciler::WriteStatus(Pass& pass) {
  StatePlan& plan = pass.decided.state;
  const api::TrainingJob& job = pass.input.job;
  if (!pass.workload_created.empty()) {
    plan.events.push_back({kube::kEventTypeNormal, "CreatedWorkload", pass.workload_created});
  }
  if (!pass.write_error.ok()) {
    // Tell the user in status (the job would otherwise sit silently), then retry with backoff.
    plan.status.message = "cannot " + pass.failed_action + ": " + pass.write_error.message();
    plan.events.push_back({kube::kEventTypeWarning, "GangUpdateFailed", plan.status.message});
  }
  if (!(plan.status == job.status)) {
    Json updated = *pass.object;  // a copy: cached objects are shared and immutable
    updated["status"] = api::EncodeStatus(plan.status);
    auto result = client_.UpdateStatus(kube::TrainingJobsResource(), job.metadata.namespace_, updated,
                                       kube::Answer::kOutcomeOnly);
    if (!result.ok()) {
      if (result.IsNotFound()) return ReconcileResult::Done();
      if (result.IsConflict()) {
        // Decided from a stale cache: decide again from the newer object.
        SPDLOG_DEBUG("trainingjob={} status conflict, requeue", pass.key);
        return ReconcileResult::Requeue();
      }
      return ReconcileResult::Error(result.status());
    }
    pending_writes_.StatusWritten(pass.key, MetadataString(*pass.object, "resourceVersion"));
    const char* phase = plan.status.phase ? api::ToString(*plan.status.phase) : "";
    const char* before = job.status.phase ? api::ToString(*job.status.phase) : "";
    if (std::string(phase) != before) {
      spdlog::info("trainingjob={} phase {} -> {}: {}", pass.key, before[0] ? before : "(new)", phase,
                   plan.status.message);
    }
  }
  Announce(pass);
  if (!pass.write_error.ok()) return ReconcileResult::Error(pass.write_error);
  if (plan.requeue_after) {
    return ReconcileResult::RequeueAfter(std::chrono::duration_cast<kube::Duration>(*plan.requeue_after));
  }
  return ReconcileResult::Done();
}

void TrainingJobReconciler::Announce(const Pass& pass) {
  const StatePlan& plan = pass.decided.state;
  const api::TrainingJob& job = pass.input.job;
  if (events_) {
    for (const JobEvent& e : plan.events) events_->Record(*pass.object, e.type, e.reason, e.message);
  }
  if (plan.restarted) restarts_->Inc();
  if (plan.admitted && job.spec.gang.scheduler == api::GangScheduler::kBuiltin) {
    // Waiting began when the job was created, or when this attempt started waiting.
    auto since = ParseRfc3339(job.metadata.creation_timestamp);
    if (const api::Condition* c = FindCondition(job.status.conditions, "Admitted")) {
      if (auto t = ParseRfc3339(c->last_transition_time)) since = t;
    }
    if (since) admission_wait_->Observe(std::chrono::duration<double>(pass.input.now - *since).count());
  }
}

}  // namespace ringleader::controller
