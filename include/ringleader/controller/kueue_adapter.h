#pragma once
// KueueAdapter: the API side of the Kueue integration (kueue_workload.h is the pure side and
// says what the integration does). It
//   - finds out whether Kueue's Workload API (kueue.x-k8s.io/v1beta2) is served, and while it
//     is not looks again when a Kueue-managed job is reconciled, at most every probe_interval
//     (installing Kueue later just works; a cluster without it costs one LIST per interval,
//     never an error loop);
//   - keeps an informer of the operator's Workloads per watched namespace (label
//     ringleader.dev/job-name; pod set templates trimmed away);
//   - makes the few calls a Kueue-managed reconcile needs: the LocalQueue's ClusterQueue (for
//     the Queued message, cached), the value of the Pods' PriorityClass (when it creates a
//     Workload), the assigned ResourceFlavors (when it creates Pods), and the Workload's
//     create, delete and status update.
//
// Thread-safety: every method may be called from any reconcile thread once Start returned.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ringleader/api/trainingjob.h"
#include "ringleader/common/status.h"
#include "ringleader/policy/kueue_workload.h"
#include "ringleader/kube/client.h"
#include "ringleader/kube/informer.h"

namespace ringleader::controller {

kube::GroupVersionResource KueueWorkloadsResource();        // kueue.x-k8s.io/v1beta2
kube::GroupVersionResource KueueLocalQueuesResource();      // kueue.x-k8s.io/v1beta2
kube::GroupVersionResource KueueResourceFlavorsResource();  // kueue.x-k8s.io/v1beta2, cluster-scoped
kube::GroupVersionResource PriorityClassesResource();       // scheduling.k8s.io/v1, cluster-scoped

// What the Workload cache keeps: metadata without managedFields, the spec without the pod
// set templates (the spec hash annotation says what the Workload was built from), status.
void TrimWorkloadForCache(kube::Json& workload);

struct KueueAdapterOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  // While the API is not served (or not allowed), how often a reconcile may look again.
  std::chrono::milliseconds probe_interval{std::chrono::seconds(10)};
  // How long a LocalQueue's ClusterQueue (or its absence) is remembered.
  std::chrono::milliseconds local_queue_ttl{std::chrono::seconds(60)};
  // Tests: this cache of Workloads instead of probing and informers (the API counts as served).
  const kube::Cache* workloads_for_test = nullptr;
};

class KueueAdapter {
 public:
  explicit KueueAdapter(kube::Client& client, KueueAdapterOptions options = {});
  ~KueueAdapter();  // Stop()s
  KueueAdapter(const KueueAdapter&) = delete;
  KueueAdapter& operator=(const KueueAdapter&) = delete;

  // Handlers for the Workload informers (the owner TrainingJob's enqueue). Before Start.
  void SetWorkloadHandlers(kube::EventHandlers handlers);
  // The first look at the API; starts the informers when it is served.
  void Start();
  void Stop();
  // False only while informers started by Start have not synced yet.
  bool HasSynced() const;

  // What a reconcile of a Kueue-managed job needs (KueueInput), from caches; a LocalQueue GET
  // when its ClusterQueue is not remembered; a probe of the API when it was missing and one is due.
  KueueInput Observe(const api::TrainingJob& job);
  // A job that is not Kueue-managed (any more) must not leave a Workload queued: deletes the
  // cached one, if any (no API call otherwise).
  Status ForgetWorkload(const api::TrainingJob& job);
  // The placement of the admitted pod set (GETs the assigned ResourceFlavors).
  StatusOr<PodPlacement> Placement(const WorkloadView& workload);
  // The Workload side of a plan: delete, create (GETs the PriorityClass when the Pods name one),
  // status update. A 409 on the status update is kAborted (decide again). `created`: set to a
  // message when a Workload was created.
  Status Apply(const api::TrainingJob& job, const KueueInput& input, const KueuePlan& plan, std::string* created);

 private:
  enum class Api { kUnknown, kServed, kMissing, kForbidden };

  void Probe();  // probe_mu_ held
  void StartInformersLocked();
  kube::ObjectPtr CachedWorkload(const std::string& ns, const std::string& name) const;
  void LookUpLocalQueue(const std::string& ns, const std::string& name, KueueInput* input);

  kube::Client& client_;
  KueueAdapterOptions options_;
  kube::EventHandlers handlers_;

  std::mutex probe_mu_;  // one probe at a time
  mutable std::mutex mu_;
  Api api_ = Api::kUnknown;
  std::string api_detail_;  // the error of the last probe
  std::chrono::steady_clock::time_point last_probe_{};
  std::vector<std::unique_ptr<kube::Informer>> informers_;
  bool stopped_ = false;

  struct QueueInfo {
    std::string cluster_queue;
    std::string problem;
    std::chrono::steady_clock::time_point fetched;
  };
  std::mutex queues_mu_;
  std::map<std::string, QueueInfo> queues_;  // namespace/name →
};

}  // namespace ringleader::controller
