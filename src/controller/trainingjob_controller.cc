#include "ringleader/controller/trainingjob_controller.h"

#include <set>

#include "ringleader/api/resources.h"
#include "ringleader/api/trainingjob.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/controller/cache_fields.h"
#include "ringleader/controller/trainingjob_reconciler.h"
#include "ringleader/policy/disruption.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;

kube::InformerOptions JobInformerOptions(const std::string& ns) {
  kube::InformerOptions jobs;
  jobs.gvr = kube::TrainingJobsResource();
  jobs.ns = ns;
  jobs.transform = TrimTrainingJobForCache;
  return jobs;
}

namespace {

// An informer whose cache keeps what `fields` lists, and decodes only that.
kube::InformerOptions ShapedBy(const kube::FieldList& fields, kube::GroupVersionResource gvr, const std::string& ns) {
  kube::InformerOptions options;
  options.gvr = std::move(gvr);
  options.ns = ns;
  options.transform = [&fields](Json& object) { fields.Trim(object); };
  options.decode_mask = fields.mask();
  return options;
}

}  // namespace

kube::InformerOptions PodInformerOptions(const std::string& ns) {
  kube::InformerOptions pods = ShapedBy(PodCacheFields(), kube::PodsResource(), ns);
  // Every pod of the cluster is cached (capacity counts other owners' pods): compact,
  // and read only by owner index or key (admission reads the BoundPodLedger instead).
  pods.compact = true;
  return pods;
}

kube::InformerOptions ServiceInformerOptions(const std::string& ns) {
  kube::InformerOptions services = ShapedBy(ServiceCacheFields(), kube::ServicesResource(), ns);
  services.label_selector = kJobNameLabel;
  return services;
}

kube::InformerOptions NodeInformerOptions() {
  kube::InformerOptions nodes;
  nodes.gvr = kube::NodesResource();
  nodes.transform = TrimNodeForCache;
  return nodes;
}

void TrainingJobReconciler::Register(kube::Controller& controller, const TrainingJobInformers& informers) {
  // Only Builtin jobs wait for capacity, and the reconciler's index knows which: waking
  // them does not walk every cached job on every pod that ends.
  auto wake_waiting_jobs = [this, &controller] {
    for (const std::string& key : JobsWaitingForAdmission()) controller.Enqueue(key);
  };
  auto wake_jobs_on_node = [pods = informers.pods, &controller](const std::string& node) {
    std::set<std::string> keys;
    for (kube::Informer* informer : pods) {
      for (const ObjectPtr& pod : informer->cache().List()) {
        const Json& spec = json_fields::ObjectOrEmpty(*pod, "spec");
        if (json_fields::StringRef(spec, "nodeName") != node) continue;
        std::string owner = kube::ControllerOwnerKey(*pod, api::kKind, api::kGroup);
        if (!owner.empty()) keys.insert(owner);
      }
    }
    for (const std::string& key : keys) controller.Enqueue(key);
  };

  for (kube::Informer* informer : informers.jobs) {
    informer->AddEventHandlers(JobAdmissionHandlers());
    informer->AddEventHandlers(controller.HandlersForPrimary());
  }
  for (kube::Informer* informer : informers.pods) {
    informer->AddEventHandlers(PodExpectationHandlers());
    informer->AddEventHandlers(PodCapacityHandlers());
    informer->AddEventHandlers(controller.HandlersForOwned(api::kKind, api::kGroup));
    // A pod that stops holding capacity (deleted, finished) may let a waiting gang in.
    kube::EventHandlers capacity;
    capacity.on_delete = [wake_waiting_jobs](const ObjectPtr&) { wake_waiting_jobs(); };
    capacity.on_update = [wake_waiting_jobs](const ObjectPtr& before, const ObjectPtr& after) {
      if (HoldsCapacity(*before) && !HoldsCapacity(*after)) wake_waiting_jobs();
    };
    informer->AddEventHandlers(capacity);
  }
  for (kube::Informer* informer : informers.services) {
    informer->AddEventHandlers(controller.HandlersForOwned(api::kKind, api::kGroup));
  }
  if (caches_.kueue != nullptr) caches_.kueue->SetWorkloadHandlers(controller.HandlersForOwned(api::kKind, api::kGroup));
  if (informers.nodes != nullptr) {
    kube::EventHandlers wake;
    wake.on_add = [wake_waiting_jobs](const ObjectPtr&) { wake_waiting_jobs(); };
    wake.on_update = [wake_waiting_jobs, wake_jobs_on_node](const ObjectPtr& before, const ObjectPtr& after) {
      Json a = *before, b = *after;
      a["metadata"].erase("resourceVersion");
      b["metadata"].erase("resourceVersion");
      if (a != b) wake_waiting_jobs();  // heartbeats do not change the trimmed node
      // A node lost (or back): the gangs with a worker there restart now, not at their next
      // pod event (a dead kubelet sends none).
      const std::string& name = json_fields::MetadataString(*after, "name");
      if (NodeHealthFromJson(*before).lost != NodeHealthFromJson(*after).lost) wake_jobs_on_node(name);
    };
    informers.nodes->AddEventHandlers(wake);
  }
}

}  // namespace ringleader::controller
