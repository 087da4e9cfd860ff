#include "ringleader/controller/kueue_adapter.h"

#include <spdlog/spdlog.h>

#include "ringleader/common/json_fields.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;

kube::GroupVersionResource KueueWorkloadsResource() { return {kKueueGroup, kKueueVersion, "workloads", true}; }
kube::GroupVersionResource KueueLocalQueuesResource() { return {kKueueGroup, kKueueVersion, "localqueues", true}; }
kube::GroupVersionResource KueueResourceFlavorsResource() {
  return {kKueueGroup, kKueueVersion, "resourceflavors", false};
}
kube::GroupVersionResource PriorityClassesResource() { return {"scheduling.k8s.io", "v1", "priorityclasses", false}; }

void TrimWorkloadForCache(Json& workload) {
  if (!workload.is_object()) return;
  if (auto meta = workload.find("metadata"); meta != workload.end() && meta->is_object()) {
    meta->erase("managedFields");
  }
  auto spec = workload.find("spec");
  if (spec == workload.end() || !spec->is_object()) return;
  if (auto sets = spec->find("podSets"); sets != spec->end() && sets->is_array()) {
    for (Json& set : *sets) {
      if (set.is_object()) set.erase("template");
    }
  }
}

namespace {

std::string WorkloadNamespace(const api::TrainingJob& job) {
  return job.metadata.namespace_.empty() ? "default" : job.metadata.namespace_;
}

}  // namespace

KueueAdapter::KueueAdapter(kube::Client& client, KueueAdapterOptions options)
    : client_(client), options_(std::move(options)) {
  if (options_.workloads_for_test != nullptr) api_ = Api::kServed;
}

KueueAdapter::~KueueAdapter() { Stop(); }

void KueueAdapter::SetWorkloadHandlers(kube::EventHandlers handlers) { handlers_ = std::move(handlers); }

void KueueAdapter::Start() {
  if (options_.workloads_for_test != nullptr) return;
  std::lock_guard<std::mutex> probe_lock(probe_mu_);
  Probe();
}

void KueueAdapter::Stop() {
  std::vector<std::unique_ptr<kube::Informer>> informers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    informers.swap(informers_);
  }
  for (auto& informer : informers) informer->Stop();
}

bool KueueAdapter::HasSynced() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& informer : informers_) {
    if (!informer->HasSynced()) return false;
  }
  return true;
}

void KueueAdapter::Probe() {
  kube::ListOptions probe;
  probe.limit = 1;
  const std::string ns = options_.namespaces.empty() ? "" : options_.namespaces.front();
  auto result = client_.List(KueueWorkloadsResource(), ns, probe);
  std::lock_guard<std::mutex> lock(mu_);
  last_probe_ = std::chrono::steady_clock::now();
  if (stopped_) return;
  const Api before = api_;
  if (result.ok()) {
    api_ = Api::kServed;
    StartInformersLocked();
    spdlog::info("Kueue's Workload API ({}) is served: TrainingJobs labelled {} are queued by Kueue",
                 KueueWorkloadsResource().ApiVersion(), kKueueQueueNameLabel);
    return;
  }
  api_detail_ = result.status().message();
  if (result.code() == StatusCode::kPermissionDenied) {
    api_ = Api::kForbidden;
  } else if (result.IsNotFound()) {
    api_ = Api::kMissing;
  } else {
    // A transient error (the API server restarting): look again at the next chance.
    if (api_ == Api::kUnknown) api_ = Api::kMissing;
  }
  if (before != api_) {
    spdlog::info("Kueue's Workload API ({}) cannot be used ({}): TrainingJobs labelled {} wait until it can",
                 KueueWorkloadsResource().ApiVersion(), api_detail_, kKueueQueueNameLabel);
  }
}

void KueueAdapter::StartInformersLocked() {
  if (!informers_.empty()) return;
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const std::string& ns : namespaces) {
    kube::InformerOptions o;
    o.gvr = KueueWorkloadsResource();
    o.ns = ns;
    o.label_selector = kJobNameLabel;  // the operator's Workloads only
    o.transform = TrimWorkloadForCache;
    auto informer = std::make_unique<kube::Informer>(client_, o);
    if (handlers_.on_add || handlers_.on_update || handlers_.on_delete) informer->AddEventHandlers(handlers_);
    informer->Start();
    informers_.push_back(std::move(informer));
  }
}

ObjectPtr KueueAdapter::CachedWorkload(const std::string& ns, const std::string& name) const {
  if (options_.workloads_for_test != nullptr) return options_.workloads_for_test->Get(ns, name);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& informer : informers_) {
    if (ObjectPtr wl = informer->cache().Get(ns, name)) return wl;
  }
  return nullptr;
}

void KueueAdapter::LookUpLocalQueue(const std::string& ns, const std::string& name, KueueInput* input) {
  const std::string key = ns + "/" + name;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(queues_mu_);
    auto it = queues_.find(key);
    if (it != queues_.end() && now - it->second.fetched < options_.local_queue_ttl) {
      input->cluster_queue = it->second.cluster_queue;
      input->queue_problem = it->second.problem;
      return;
    }
  }
  QueueInfo info;
  info.fetched = now;
  auto queue = client_.Get(KueueLocalQueuesResource(), ns, name);
  if (queue.ok()) {
    info.cluster_queue = json_fields::StringField(json_fields::ObjectOrEmpty(*queue, "spec"), "clusterQueue");
  } else if (queue.IsNotFound()) {
    info.problem = "LocalQueue " + name + " does not exist in namespace " + ns;
  }  // other errors (RBAC): the message just leaves the ClusterQueue out
  input->cluster_queue = info.cluster_queue;
  input->queue_problem = info.problem;
  std::lock_guard<std::mutex> lock(queues_mu_);
  queues_[key] = std::move(info);
}

KueueInput KueueAdapter::Observe(const api::TrainingJob& job) {
  KueueInput input;
  input.queue = KueueQueueName(job);
  input.expected_spec_hash = WorkloadSpecHash(job);
  const std::string gv = KueueWorkloadsResource().ApiVersion();
  if (options_.workloads_for_test == nullptr) {
    Api api;
    {
      std::lock_guard<std::mutex> lock(mu_);
      api = api_;
      const bool due = std::chrono::steady_clock::now() - last_probe_ >= options_.probe_interval;
      if (api != Api::kServed && due && !stopped_) {
        api = Api::kUnknown;  // probe below
      }
    }
    if (api == Api::kUnknown) {
      // One probe at a time; a reconcile that finds one running goes on with what is known.
      std::unique_lock<std::mutex> probe_lock(probe_mu_, std::try_to_lock);
      if (probe_lock.owns_lock()) Probe();
      std::lock_guard<std::mutex> lock(mu_);
      api = api_;
    }
    std::string detail;
    {
      std::lock_guard<std::mutex> lock(mu_);
      detail = api_detail_;
    }
    switch (api) {
      case Api::kServed:
        if (!HasSynced()) {
          input.unavailable = "waiting for the operator's cache of Kueue Workloads to sync";
          input.unavailable_reason = "KueueNotSynced";
          input.unavailable_retry = std::chrono::seconds(1);
          return input;
        }
        break;
      case Api::kForbidden:
        input.unavailable = "the operator may not list Kueue Workloads (" + gv + "): " + detail +
                            "; grant it the Kueue rules of deploy/rbac.yaml";
        input.unavailable_reason = "KueueForbidden";
        return input;
      case Api::kMissing:
      case Api::kUnknown:
        input.unavailable = "Kueue's Workload API (" + gv +
                            ") is not served by this cluster: install Kueue (v0.15 or later), or remove the " +
                            kKueueQueueNameLabel + " label to run without it";
        input.unavailable_reason = kReasonKueueCrdMissing;
        return input;
    }
  }
  if (ObjectPtr wl = CachedWorkload(WorkloadNamespace(job), WorkloadName(job))) input.workload = ReadWorkload(*wl);
  LookUpLocalQueue(WorkloadNamespace(job), input.queue, &input);
  return input;
}

Status KueueAdapter::ForgetWorkload(const api::TrainingJob& job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (api_ != Api::kServed) return Status::Ok();
  }
  ObjectPtr wl = CachedWorkload(WorkloadNamespace(job), WorkloadName(job));
  if (!wl || ReadWorkload(*wl).deleting) return Status::Ok();
  kube::DeleteOptions options;
  options.precondition_uid = json_fields::MetadataString(*wl, "uid");
  auto result = client_.Delete(KueueWorkloadsResource(), WorkloadNamespace(job), WorkloadName(job), options);
  if (!result.ok() && !result.IsNotFound() && !result.IsConflict()) return result.status();
  spdlog::info("trainingjob={}/{} has no {} label any more: deleted its Workload", job.metadata.namespace_,
               job.metadata.name, kKueueQueueNameLabel);
  return Status::Ok();
}

StatusOr<PodPlacement> KueueAdapter::Placement(const WorkloadView& workload) {
  std::map<std::string, Json> flavors;
  for (const PodSetAssignment& a : workload.assignments) {
    for (const auto& [resource, name] : a.flavors) {
      if (flavors.count(name)) continue;
      auto flavor = client_.Get(KueueResourceFlavorsResource(), "", name);
      if (!flavor.ok()) {
        return Status(flavor.code(), "read ResourceFlavor " + name + " of the admission: " + flavor.status().message());
      }
      flavors[name] = std::move(*flavor);
    }
  }
  return PlacementFor(workload, flavors);
}

Status KueueAdapter::Apply(const api::TrainingJob& job, const KueueInput& input, const KueuePlan& plan,
                           std::string* created) {
  const std::string ns = WorkloadNamespace(job);
  const std::string name = WorkloadName(job);
  if (plan.delete_workload && input.workload) {
    kube::DeleteOptions options;
    options.precondition_uid = input.workload->uid;
    auto result = client_.Delete(KueueWorkloadsResource(), ns, name, options);
    if (!result.ok() && !result.IsNotFound() && !result.IsConflict()) return result.status();
    spdlog::info("trainingjob={}/{} deleted Workload {}", job.metadata.namespace_, job.metadata.name, name);
    return Status::Ok();  // a status update of the deleted Workload would be pointless
  }
  if (plan.workload_status && input.workload) {
    ObjectPtr cached = CachedWorkload(ns, name);
    if (cached) {
      Json updated = *cached;  // a copy: cached objects are shared and immutable
      updated["metadata"]["resourceVersion"] = input.workload->resource_version;
      updated["status"] = *plan.workload_status;
      auto result = client_.UpdateStatus(KueueWorkloadsResource(), ns, updated, kube::Answer::kOutcomeOnly);
      if (result.IsConflict()) return AbortedError("Workload " + name + " changed: decide again");
      if (!result.ok() && !result.IsNotFound()) return result.status();
    }
  }
  if (plan.create_workload) {
    std::optional<int32_t> priority;
    const std::string priority_class = WorkerPriorityClassName(job);
    if (!priority_class.empty()) {
      auto pc = client_.Get(PriorityClassesResource(), "", priority_class);
      if (!pc.ok()) {
        return Status(pc.code(), "read PriorityClass " + priority_class +
                                     " for the Workload's priority: " + pc.status().message());
      }
      priority = static_cast<int32_t>(json_fields::IntField(*pc, "value").value_or(0));
    }
    auto result =
        client_.Create(KueueWorkloadsResource(), ns, BuildWorkload(job, priority), kube::Answer::kOutcomeOnly);
    if (!result.ok() && !result.IsAlreadyExists()) return result.status();
    if (result.ok() && created != nullptr) {
      *created = "created Workload " + ns + "/" + name + " in LocalQueue " + input.queue;
      spdlog::info("trainingjob={}/{} {}", job.metadata.namespace_, job.metadata.name, *created);
    }
  }
  return Status::Ok();
}

}  // namespace ringleader::controller
