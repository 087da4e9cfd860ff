#pragma once
// The controller engine: N worker threads take keys ("namespace/name") from a rate-limited
// WorkQueue and call a Reconciler. Level-based: the key is all a reconcile gets; it reads
// the current state from informer caches.
//
// Result handling (controller-runtime semantics):
//   Done()             → Forget(key) (backoff reset)
//   RequeueAfter(d)    → Forget(key), AddAfter(key, d)
//   Requeue()          → AddRateLimited(key)
//   Error(status)      → AddRateLimited(key) (logged)
//   a thrown exception → logged, AddRateLimited(key) (panic guard; the worker survives)
//
// Metrics (registry from options): ringleader_reconcile_total{controller,result}
// (result = success|requeue|requeue_after|error|panic), ringleader_reconcile_duration_seconds
// {controller} histogram, ringleader_workqueue_depth{controller} gauge.
//
// Thread-safety: Enqueue* are thread-safe; Start/Stop from one owner thread.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/kube/informer.h"
#include "ringleader/kube/workqueue.h"

namespace ringleader::metrics {
class Gauge;
class Registry;
}

namespace ringleader::kube {

struct ReconcileResult {
  enum class Kind { kDone, kRequeue, kRequeueAfter, kError };
  Kind kind = Kind::kDone;
  Duration requeue_after{0};
  Status error;

  static ReconcileResult Done() { return {}; }
  static ReconcileResult Requeue() { return {Kind::kRequeue, Duration{0}, {}}; }
  static ReconcileResult RequeueAfter(Duration d) { return {Kind::kRequeueAfter, d, {}}; }
  static ReconcileResult Error(Status s) { return {Kind::kError, Duration{0}, std::move(s)}; }
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called with at most one call per key at a time, possibly many keys concurrently.
  virtual ReconcileResult Reconcile(const std::string& key) = 0;
};

struct ControllerOptions {
  std::string name = "controller";  // metric label and log field
  int workers = 2;
  std::unique_ptr<RateLimiter> rate_limiter;  // nullptr: DefaultControllerRateLimiter()
  metrics::Registry* registry = nullptr;      // nullptr: metrics::Registry::Default()
  // HandlersForOwned enqueue the owner this much later (0: at once), so that a burst of
  // child events (8 pods created, bound, started) costs one reconcile, not one each: the
  // Job controller batches pod events the same way (1 s).
  Duration owned_event_batch{0};
};

class Controller {
 public:
  Controller(Reconciler& reconciler, ControllerOptions options = {});
  ~Controller();  // Stop()s
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Enqueue(const std::string& key);
  void EnqueueAfter(const std::string& key, Duration delay);
  WorkQueue& queue() { return queue_; }

  // Handlers that enqueue the object's own key (for the primary resource's informer).
  EventHandlers HandlersForPrimary();
  // Handlers that enqueue the key of the object's controller owner when that owner has the
  // given kind and API group ("ringleader.dev"); other objects are ignored. An update whose
  // controller owner changed enqueues both owners.
  EventHandlers HandlersForOwned(std::string owner_kind, std::string owner_group);

  void Start();  // starts the workers
  // Shuts the queue down, waits for in-flight reconciles to return, joins workers.
  void Stop();

  // Reconciles finished so far (any result). For tests.
  uint64_t ReconcileCount() const { return reconcile_count_.load(); }

 private:
  void Worker();
  void ProcessOne(const std::string& key);

  Reconciler& reconciler_;
  std::string name_;
  int workers_;
  Duration owned_event_batch_;
  metrics::Registry* registry_;
  WorkQueue queue_;
  metrics::Gauge* depth_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> reconcile_count_{0};
  std::atomic<bool> started_{false};
};

// The key ("namespace/name") of `object`'s controller ownerReference when it has the given
// kind and its apiVersion's group is `owner_group` ("" = core); otherwise "". Owners live in
// the object's namespace (cluster-scoped owners of namespaced objects are not supported).
std::string ControllerOwnerKey(const Json& object, const std::string& owner_kind,
                               const std::string& owner_group);

// A controller ownerReference for `owner` (controller=true, blockOwnerDeletion=true), to put
// into a child's metadata.ownerReferences.
Json MakeControllerOwnerReference(const Json& owner);

}  // namespace ringleader::kube
