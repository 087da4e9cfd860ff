#include "ringleader/kube/controller.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "internal.h"
#include "ringleader/common/metrics.h"

namespace ringleader::kube {
namespace {

using internal::ArrayField;
using internal::BoolField;
using internal::MetaString;
using internal::ObjectField;
using internal::StringField;

std::string GroupOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

}  // namespace

std::string ControllerOwnerKey(const Json& object, const std::string& owner_kind,
                               const std::string& owner_group) {
  const Json* meta = ObjectField(object, "metadata");
  const Json* refs = meta ? ArrayField(*meta, "ownerReferences") : nullptr;
  if (!refs) return "";
  for (const Json& ref : *refs) {
    if (!BoolField(ref, "controller")) continue;
    if (StringField(ref, "kind") != owner_kind) return "";
    if (GroupOf(StringField(ref, "apiVersion")) != owner_group) return "";
    std::string name = StringField(ref, "name");
    if (name.empty()) return "";
    return MakeKey(StringField(*meta, "namespace"), name);
  }
  return "";
}

Json MakeControllerOwnerReference(const Json& owner) {
  return Json{{"apiVersion", StringField(owner, "apiVersion")},
              {"kind", StringField(owner, "kind")},
              {"name", MetaString(owner, "name")},
              {"uid", MetaString(owner, "uid")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

Controller::Controller(Reconciler& reconciler, ControllerOptions options)
    : reconciler_(reconciler),
      name_(options.name),
      workers_(std::max(1, options.workers)),
      owned_event_batch_(options.owned_event_batch),
      registry_(options.registry ? options.registry : &metrics::Registry::Default()),
      queue_(std::move(options.rate_limiter)),
      depth_(&registry_
                  ->AddGauge("ringleader_workqueue_depth",
                             "Keys waiting in the controller's work queue.", {"controller"})
                  .WithLabels({name_})) {}

Controller::~Controller() { Stop(); }

void Controller::Enqueue(const std::string& key) {
  queue_.Add(key);
  depth_->Set(static_cast<double>(queue_.Len()));
}

void Controller::EnqueueAfter(const std::string& key, Duration delay) {
  queue_.AddAfter(key, delay);
  // A delay <= 0 queues at once, and the call may have promoted other keys that were due.
  depth_->Set(static_cast<double>(queue_.Len()));
}

EventHandlers Controller::HandlersForPrimary() {
  EventHandlers handlers;
  handlers.on_add = [this](const ObjectPtr& object) { Enqueue(ObjectKeyOf(*object)); };
  handlers.on_update = [this](const ObjectPtr&, const ObjectPtr& object) {
    Enqueue(ObjectKeyOf(*object));
  };
  handlers.on_delete = [this](const ObjectPtr& object) { Enqueue(ObjectKeyOf(*object)); };
  return handlers;
}

EventHandlers Controller::HandlersForOwned(std::string owner_kind, std::string owner_group) {
  auto enqueue_owner = [this, owner_kind, owner_group](const Json& object) {
    std::string key = ControllerOwnerKey(object, owner_kind, owner_group);
    if (key.empty()) return;
    if (owned_event_batch_ > Duration::zero()) {
      EnqueueAfter(key, owned_event_batch_);  // the earliest delayed add of a key wins
    } else {
      Enqueue(key);
    }
  };
  EventHandlers handlers;
  handlers.on_add = [enqueue_owner](const ObjectPtr& object) { enqueue_owner(*object); };
  handlers.on_update = [enqueue_owner](const ObjectPtr& old_object, const ObjectPtr& object) {
    enqueue_owner(*object);
    if (ControllerOwnerUid(*old_object) != ControllerOwnerUid(*object)) enqueue_owner(*old_object);
  };
  handlers.on_delete = [enqueue_owner](const ObjectPtr& object) { enqueue_owner(*object); };
  return handlers;
}

void Controller::Start() {
  if (started_.exchange(true)) return;
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Worker(); });
}

void Controller::Stop() {
  queue_.ShutDown();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void Controller::Worker() {
  while (auto key = queue_.Get()) {
    depth_->Set(static_cast<double>(queue_.Len()));
    ProcessOne(*key);
    queue_.Done(*key);
    depth_->Set(static_cast<double>(queue_.Len()));
  }
}

void Controller::ProcessOne(const std::string& key) {
  auto& total = registry_->AddCounter("ringleader_reconcile_total",
                                      "Reconciles by controller and result.",
                                      {"controller", "result"});
  auto& duration = registry_->AddHistogram("ringleader_reconcile_duration_seconds",
                                           "Time spent in Reconcile.", {"controller"})
                       .WithLabels({name_});
  auto started = Clock::now();
  std::string result_label;
  try {
    ReconcileResult result = reconciler_.Reconcile(key);
    switch (result.kind) {
      case ReconcileResult::Kind::kDone:
        queue_.Forget(key);
        result_label = "success";
        break;
      case ReconcileResult::Kind::kRequeue:
        queue_.AddRateLimited(key);
        result_label = "requeue";
        break;
      case ReconcileResult::Kind::kRequeueAfter:
        queue_.Forget(key);
        queue_.AddAfter(key, result.requeue_after);
        result_label = "requeue_after";
        break;
      case ReconcileResult::Kind::kError:
        spdlog::warn("msg=\"reconcile failed\" controller={} key={} error=\"{}\" requeues={}",
                     name_, key, result.error.ToString(), queue_.NumRequeues(key));
        queue_.AddRateLimited(key);
        result_label = "error";
        break;
    }
  } catch (const std::exception& e) {
    // Panic guard: one bad object must not take the operator down.
    spdlog::error("msg=\"reconcile threw\" controller={} key={} exception=\"{}\"", name_, key,
                  e.what());
    queue_.AddRateLimited(key);
    result_label = "panic";
  } catch (...) {
    spdlog::error("msg=\"reconcile threw a non-exception\" controller={} key={}", name_, key);
    queue_.AddRateLimited(key);
    result_label = "panic";
  }
  duration.Observe(std::chrono::duration<double>(Clock::now() - started).count());
  total.WithLabels({name_, result_label}).Inc();
  ++reconcile_count_;
}

}  // namespace ringleader::kube
