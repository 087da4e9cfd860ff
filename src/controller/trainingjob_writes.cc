// The writes of a reconcile to the job's children: PodGroup, Service, pods (create, delete,
// ungate) and the Kueue Workload, as StatePlan decided them. Split from
// trainingjob_reconciler.cc, which reads, decides and writes status.
#include <algorithm>
#include <atomic>

#include <spdlog/spdlog.h>

#include "ringleader/api/resources.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/common/metrics.h"
#include "ringleader/controller/trainingjob_reconciler.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;
using kube::ReconcileResult;

namespace {

using json_fields::MetadataString;

const Json& Member(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// Runs `call` on a pool thread: an exception there would be rethrown in the reconcile, so it
// becomes the call's error instead.
Status CallGuarded(const std::function<Status()>& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return InternalError(std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return InternalError("unexpected non-exception thrown");
  }
}

// Runs `call` for every item on `pool`, at most `parallelism` at a time, in batches that start
// at `first_batch` and double. Stops after a batch in which any call failed: the rest would
// most likely fail the same way (quota, RBAC, webhook). Returns the first error.
Status ForEachInBatches(TaskPool& pool, size_t count, int parallelism, size_t first_batch,
                        const std::function<Status(size_t)>& call) {
  size_t next = 0;
  size_t batch = std::max<size_t>(1, first_batch);
  const size_t cap = static_cast<size_t>(std::max(1, parallelism));
  while (next < count) {
    size_t n = std::min({batch, cap, count - next});
    std::vector<Status> results(n);
    pool.RunAll(n, n, [&](size_t i) { results[i] = CallGuarded([&] { return call(next + i); }); });
    for (const Status& s : results) {
      if (!s.ok()) return s;
    }
    next += n;
    batch *= 2;
  }
  return Status::Ok();
}

// Creates: batches of 1, 2, 4, ... (the Job controller's slow start), so that a create that
// fails (quota, webhook) costs one error, not N.
Status ForEachSlowStart(TaskPool& pool, size_t count, int parallelism, const std::function<Status(size_t)>& call) {
  return ForEachInBatches(pool, count, parallelism, 1, call);
}

// Deletes and gate removals go to pods that exist: all at once (up to `parallelism`), so
// that a gang is released or torn down together.
Status ForEachAtOnce(TaskPool& pool, size_t count, int parallelism, const std::function<Status(size_t)>& call) {
  return ForEachInBatches(pool, count, parallelism, static_cast<size_t>(std::max(1, parallelism)), call);
}

kube::GroupVersionResource PodGroupResource(api::GangScheduler scheduler) {
  return scheduler == api::GangScheduler::kVolcano ? kube::VolcanoPodGroupsResource()
                                                   : kube::CoschedulingPodGroupsResource();
}

}  // namespace

void TrainingJobReconciler::CreatePodGroup(Pass& pass) {
  if (!pass.decided.state.create_podgroup) return;
  const api::TrainingJob& job = pass.input.job;
  std::optional<Json> group = BuildPodGroup(job);
  if (!group) return;
  const kube::GroupVersionResource gvr = PodGroupResource(job.spec.gang.scheduler);
  auto result = client_.Create(gvr, job.metadata.namespace_, *group);
  if (result.IsNotFound()) {
    // The scheduler is not installed: the policy decides what that means for the job.
    pass.input.missing_podgroup_api = gvr.ApiVersion();
    pass.decided = Decide(pass);
    for (const JobEvent& e : pass.decided.state.events) {
      if (e.reason == kPodGroupCrdMissing) spdlog::warn("trainingjob={} {}", pass.key, e.message);
    }
  } else if (!result.ok() && !result.IsAlreadyExists()) {
    pass.RecordFailure("create the PodGroup", result.status());
  }
}

void TrainingJobReconciler::CreateServiceAndPods(Pass& pass) {
  StatePlan& plan = pass.decided.state;
  const api::TrainingJob& job = pass.input.job;
  const std::string& ns = job.metadata.namespace_;
  const std::string& key = pass.key;
  // Kueue's admission (flavors' node labels and tolerations) goes into every Pod created.
  std::optional<PodPlacement> placement;
  if (pass.kueue_managed && pass.write_error.ok() && !plan.create_ranks.empty() && pass.kueue.workload &&
      caches_.kueue) {
    auto admitted = caches_.kueue->Placement(*pass.kueue.workload);
    if (admitted.ok()) {
      placement = std::move(*admitted);
    } else {
      pass.RecordFailure("apply Kueue's admission", admitted.status());
    }
  }

  // The Service is created alongside the first pods rather than one round trip before them
  // (the workers resolve it only once they run, and a failed create is retried either way).
  std::vector<std::function<void()>> creates;
  Status service_created = Status::Ok();
  if (pass.write_error.ok() && plan.create_service) {
    creates.push_back([&] {
      service_created = CallGuarded([&] {
        auto result = client_.Create(kube::ServicesResource(), ns, BuildService(job), kube::Answer::kOutcomeOnly);
        return result.ok() || result.IsAlreadyExists() ? Status::Ok() : result.status();
      });
    });
  }
  Status created_all = Status::Ok();
  std::atomic<int64_t> created{0};
  std::atomic<bool> gates_dropped{false};
  std::vector<std::string> names;
  if (pass.write_error.ok() && !plan.create_ranks.empty()) {
    names = plan.create_names;
    expectations_.ExpectCreations(key, names);
    const bool gated = job.spec.gang.scheduler == api::GangScheduler::kBuiltin;
    creates.push_back([&, gated] {
      created_all = ForEachSlowStart(write_pool_, plan.create_ranks.size(), options_.write_parallelism, [&](size_t i) {
        Json pod = BuildWorkerPod(job, plan.create_ranks[i], plan.status.attempt);
        pod["metadata"]["name"] = names[i];  // its hostname stays the rank's usual one
        if (placement) {
          Status applied = ApplyPlacement(*placement, pod);
          if (!applied.ok()) {
            expectations_.CreationObserved(key, names[i]);
            return applied;
          }
        }
        // Whether the server keeps schedulingGates is read from the first answer only: it is
        // one warning per process, and decoding every answer was a third of a create's CPU.
        const bool check_gates = gated && !gates_checked_.load();
        auto result = client_.Create(kube::PodsResource(), ns, pod,
                                     check_gates ? kube::Answer::kObject : kube::Answer::kOutcomeOnly);
        if (!result.ok()) {
          expectations_.CreationObserved(key, names[i]);
          return result.IsAlreadyExists() ? Status::Ok() : result.status();
        }
        created.fetch_add(1);
        if (check_gates) {
          gates_checked_ = true;
          if (!Member(Member(*result, "spec"), "schedulingGates").is_array()) gates_dropped = true;
        }
        return Status::Ok();
      });
    });
  }
  write_pool_.RunAll(creates.size(), creates.size(), [&](size_t i) { creates[i](); });

  if (!names.empty()) {
    // Creates never sent (a failed batch stops the rest) are not expected either.
    if (!created_all.ok()) expectations_.Forget(key);
    pass.RecordFailure("create worker pods", created_all);
    pods_created_->Inc(static_cast<double>(created.load()));
    if (created.load() > 0) {
      spdlog::info("trainingjob={} created {} pods of attempt {}", key, created.load(), plan.status.attempt);
    }
    if (gates_dropped) {
      std::call_once(gates_warning_once_, [] {
        spdlog::warn(
            "the API server dropped the pods' schedulingGates (Kubernetes < 1.27 or the "
            "PodSchedulingReadiness feature is off): Builtin gangs rely on capacity admission "
            "alone and pods start as they are created");
      });
    }
  }
  pass.RecordFailure("create the Service", service_created);
}

void TrainingJobReconciler::DeletePods(Pass& pass) {
  const StatePlan& plan = pass.decided.state;
  const std::string& ns = pass.input.job.metadata.namespace_;
  if (!plan.delete_pods.empty()) {
    Status s = ForEachAtOnce(write_pool_, plan.delete_pods.size(), options_.write_parallelism, [&](size_t i) {
      auto result = client_.Delete(kube::PodsResource(), ns, plan.delete_pods[i]);
      return result.ok() || result.IsNotFound() ? Status::Ok() : result.status();
    });
    pass.RecordFailure("delete worker pods", s);
    spdlog::info("trainingjob={} deleting {} pods", pass.key, plan.delete_pods.size());
  }
  if (!plan.force_delete_pods.empty()) {
    kube::DeleteOptions force;
    force.grace_period_seconds = 0;
    Status s = ForEachAtOnce(write_pool_, plan.force_delete_pods.size(), options_.write_parallelism, [&](size_t i) {
      auto result = client_.Delete(kube::PodsResource(), ns, plan.force_delete_pods[i], force);
      return result.ok() || result.IsNotFound() ? Status::Ok() : result.status();
    });
    pass.RecordFailure("force-delete pods stuck on lost nodes", s);
    spdlog::warn("trainingjob={} force-deleted {} pods stuck on lost nodes", pass.key, plan.force_delete_pods.size());
  }
}

void TrainingJobReconciler::UngatePods(Pass& pass) {
  const StatePlan& plan = pass.decided.state;
  const std::string& ns = pass.input.job.metadata.namespace_;
  if (!pass.write_error.ok() || plan.ungate_pods.empty()) return;
  Status ungated = ForEachAtOnce(write_pool_, plan.ungate_pods.size(), options_.write_parallelism, [&](size_t i) {
    ObjectPtr cached = FindPod(ns, plan.ungate_pods[i]);
    Json remaining = Json::array();
    if (cached) {
      const Json& gates = Member(Member(*cached, "spec"), "schedulingGates");
      if (gates.is_array()) {
        for (const Json& g : gates) {
          if (g.value("name", "") != kGangSchedulingGate) remaining.push_back(g);
        }
      }
    }
    Json patch = {{"spec", {{"schedulingGates", remaining.empty() ? Json(nullptr) : remaining}}}};
    auto result = client_.Patch(kube::PodsResource(), ns, plan.ungate_pods[i], kube::PatchType::kMerge, patch, "",
                                kube::Answer::kOutcomeOnly);
    if (result.ok() && cached) pending_writes_.GateRemoved(pass.key, MetadataString(*cached, "uid"));
    return result.ok() || result.IsNotFound() ? Status::Ok() : result.status();
  });
  pass.RecordFailure("remove the gang scheduling gate", ungated);
  if (ungated.ok()) spdlog::info("trainingjob={} released the gang: {} pods ungated", pass.key, plan.ungate_pods.size());
}

std::optional<ReconcileResult> TrainingJobReconciler::SyncKueueWorkload(Pass& pass) {
  const api::TrainingJob& job = pass.input.job;
  if (pass.kueue_managed && caches_.kueue != nullptr && pass.write_error.ok()) {
    Status applied = caches_.kueue->Apply(job, pass.kueue, pass.decided, &pass.workload_created);
    if (applied.code() == StatusCode::kAborted) return ReconcileResult::Requeue();
    pass.RecordFailure("sync the job's Kueue Workload", applied);
  } else if (!pass.kueue_managed && caches_.kueue != nullptr) {
    pass.RecordFailure("delete the Workload of a job without the queue-name label", caches_.kueue->ForgetWorkload(job));
  }
  return std::nullopt;
}

}  // namespace ringleader::controller
