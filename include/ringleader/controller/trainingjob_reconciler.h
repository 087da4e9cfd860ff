#pragma once
// TrainingJobReconciler: the thin adapter between the controller engine (kube::Controller) and
// the pure state machine (DecideNextState). One Reconcile(key):
//   1. reads the job, its pods and its Service from informer caches (never mutating them);
//   2. for a Builtin gang that waits for admission, checks whether the whole gang fits the
//      free capacity (serialised across reconcile threads; older waiting jobs reserve first);
//   3. calls DecideNextState and carries out its plan: creates the Service, the PodGroup and
//      the pods (AlreadyExists counts as success), deletes pods, removes the gang scheduling
//      gate, writes /status only when it changed, records one Event per transition, and
//      deletes the job when its TTL has expired.
//
// Stale caches: the status is written with the cached resourceVersion, so a reconcile that
// decided from an old view gets a 409 and is requeued instead of applying a transition twice
// (a restart is never counted twice). Pod names are deterministic (the state machine names a
// rank NAME-worker-R, or NAME-worker-R-aA while a stuck pod of an older attempt holds that)
// and creations are tracked in Expectations, so a cache that has not yet seen new pods never
// leads to duplicates. Pods stuck on lost nodes are force-deleted (gracePeriodSeconds 0).
//
// Thread-safety: Reconcile may run for different keys concurrently (the engine guarantees
// one call per key at a time). The caches must outlive the reconciler.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringleader/api/trainingjob.h"
#include "ringleader/common/task_pool.h"
#include "ringleader/controller/bound_pod_ledger.h"
#include "ringleader/controller/builtin_job_index.h"
#include "ringleader/controller/expectations.h"
#include "ringleader/policy/gang_admission.h"
#include "ringleader/controller/kueue_adapter.h"
#include "ringleader/controller/pending_writes.h"
#include "ringleader/controller/trainingjob_controller.h"
#include "ringleader/policy/trainingjob_state.h"
#include "ringleader/kube/client.h"
#include "ringleader/kube/controller.h"
#include "ringleader/kube/event_recorder.h"
#include "ringleader/kube/informer.h"

namespace ringleader::metrics {
class Counter;
class Histogram;
class Registry;
}  // namespace ringleader::metrics

namespace ringleader::controller {

// Where the reconciler reads the world from. One cache per watched namespace (or one for all).
struct ReconcilerCaches {
  std::vector<const kube::Cache*> jobs;
  std::vector<const kube::Cache*> pods;      // every pod (capacity counts pods of other owners)
  std::vector<const kube::Cache*> services;  // the operator's headless Services
  // nullptr: the operator may not list nodes (RBAC); Builtin admission then skips the
  // capacity check and says so in the Admitted condition.
  const kube::Cache* nodes = nullptr;
  std::string nodes_unavailable_reason;
  // Jobs labelled kueue.x-k8s.io/queue-name are queued by Kueue through it (kueue_adapter.h).
  // nullptr: no Kueue integration (the label is ignored).
  KueueAdapter* kueue = nullptr;
};

struct ReconcilerOptions {
  StateOptions state;
  // Pods created / deleted / ungated in parallel per job. Creates go in batches of 1, 2, 4, ...
  // (slow start, like the Job controller) so that a failing create does not cost N errors;
  // deletes and gate removals go to pods that exist, all at once. Also the size of the thread
  // pool those writes run on, shared by all reconcile workers.
  int write_parallelism = 16;
  Expectations::Clock::duration expectations_timeout = std::chrono::seconds(30);
  // Builtin admission is FIFO with bounded backfill: a younger gang that fits may start while
  // an older one waits for capacity, but only until the older one has waited this long; from
  // then on it is head of line and younger gangs wait behind it (so a stream of small jobs
  // cannot starve a large one). Zero: strict FIFO. A gang that could not fit even the whole
  // cluster empty never blocks others.
  std::chrono::milliseconds backfill_window{std::chrono::minutes(10)};
  std::function<std::chrono::system_clock::time_point()> clock;  // nullptr: system_clock::now
  metrics::Registry* registry = nullptr;                          // nullptr: Registry::Default()
};

class TrainingJobReconciler final : public kube::Reconciler {
 public:
  // `events` may be nullptr (no Events are written).
  TrainingJobReconciler(kube::Client& client, ReconcilerCaches caches, kube::EventRecorder* events,
                        ReconcilerOptions options = {});

  kube::ReconcileResult Reconcile(const std::string& key) override;

  // Adds this reconciler's handlers to `informers` (and to the Kueue adapter's Workload
  // informers): job and child events requeue the owning job through `controller`, pod and node
  // events keep admission current and wake the gangs they concern. Call once, before the
  // informers start; `controller` and the informers must outlive them.
  void Register(kube::Controller& controller, const TrainingJobInformers& informers);

  // Pod informer handlers: lower the creation expectations of the pod's owner.
  kube::EventHandlers PodExpectationHandlers();
  // Pod informer handlers: keep the capacity held by bound pods current for admission.
  // Every pod informer must deliver to both.
  kube::EventHandlers PodCapacityHandlers() { return bound_pods_.Handlers(); }
  // Job informer handlers: keep admission's index of Builtin jobs current. Every job
  // informer must deliver to it.
  kube::EventHandlers JobAdmissionHandlers() { return builtin_jobs_.Handlers(); }
  // Keys of the Builtin jobs waiting for admission, oldest first.
  std::vector<std::string> JobsWaitingForAdmission() const { return builtin_jobs_.WaitingForAdmission(); }

  const Expectations& expectations() const { return expectations_; }

 private:
  struct Admitted {
    PodDemand pod;
    int64_t workers = 0;
    int32_t attempt = 0;
  };

  // One reconcile: what it read, what was decided, and the first write that failed. Its steps
  // (Reconcile below) only execute the decision; trainingjob_writes.cc writes the children.
  struct Pass {
    std::string key;
    kube::ObjectPtr object;
    StateInput input;
    bool kueue_managed = false;
    KueueInput kueue;
    KueuePlan decided;
    Status write_error = Status::Ok();
    std::string failed_action;  // for the status message: what could not be done
    std::string workload_created;
    void RecordFailure(const char* action, const Status& status);
  };
  // Requeues while the caches do not yet show this operator's last writes to the job.
  std::optional<kube::ReconcileResult> WaitForOwnWrites(const std::string& key, const kube::Json& object);
  void ReadChildren(Pass& pass);
  KueuePlan Decide(const Pass& pass) const;
  kube::ReconcileResult DeleteExpiredJob(const Pass& pass);
  // Creates the PodGroup the plan asks for; when its CRD is missing, decides again knowing it.
  void CreatePodGroup(Pass& pass);
  void CreateServiceAndPods(Pass& pass);
  void DeletePods(Pass& pass);
  void UngatePods(Pass& pass);
  std::optional<kube::ReconcileResult> SyncKueueWorkload(Pass& pass);
  kube::ReconcileResult WriteStatus(Pass& pass);
  // The transition is recorded in status: its events and metrics, once.
  void Announce(const Pass& pass);

  kube::ObjectPtr FindJob(const std::string& key) const;
  kube::ObjectPtr FindPod(const std::string& ns, const std::string& name) const;
  std::vector<kube::ObjectPtr> PodsOwnedBy(const std::string& uid) const;
  bool ServiceExists(const std::string& ns, const std::string& name) const;
  // The lost nodes among those `pods` are bound to, from the node cache (empty without one).
  LostNodes LostNodesOf(const std::vector<ObservedPod>& pods) const;
  AdmissionResult CheckAdmission(const api::TrainingJob& job);

  std::chrono::system_clock::time_point Now() const;

  kube::Client& client_;
  ReconcilerCaches caches_;
  kube::EventRecorder* events_;
  ReconcilerOptions options_;
  Expectations expectations_;
  PendingWrites pending_writes_;
  // Runs the parallel creates, deletes and gate removals of every worker's reconciles: with the
  // reconcile's own thread, one reconcile gets write_parallelism at once; several share them.
  TaskPool write_pool_;

  // Admission is one decision over the whole cluster: two jobs checked at once could each
  // fit alone and not together. Jobs admitted here but whose Admitted=True the job cache
  // does not show yet keep their capacity reserved through `admitted_`.
  std::mutex admission_mu_;
  std::map<std::string, Admitted> admitted_;  // job uid →
  // Admission reads every node; their parsed forms are kept per resourceVersion (guarded
  // by admission_mu_, swept on each check so they never grow).
  struct CachedNode {
    std::string resource_version;
    NodeCapacity node;
    uint64_t seen_in_pass = 0;
  };
  std::map<std::string, CachedNode> node_cache_;  // node name →
  std::shared_ptr<const std::vector<NodeCapacity>> node_snapshot_;  // node_cache_'s nodes, in name order
  uint64_t admission_pass_ = 0;                   // CheckAdmission calls, to sweep node_cache_
  BoundPodLedger bound_pods_;
  BuiltinJobIndex builtin_jobs_;

  std::atomic<bool> gates_checked_{false};  // a created pod's answer showed whether gates are kept
  std::once_flag gates_warning_once_;

  metrics::Counter* pods_created_;
  metrics::Counter* restarts_;
  metrics::Histogram* admission_wait_;
};


}  // namespace ringleader::controller
