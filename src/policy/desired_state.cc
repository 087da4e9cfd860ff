#include "ringleader/policy/desired_state.h"

#include "ringleader/api/quantity.h"
#include "ringleader/api/worker_env_builder.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using api::GangScheduler;
using nlohmann::json;

namespace {

std::string Namespace(const api::TrainingJob& job) {
  return job.metadata.namespace_.empty() ? "default" : job.metadata.namespace_;
}

json ChildMetadata(const api::TrainingJob& job, const std::string& name) {
  return {{"name", name},
          {"namespace", Namespace(job)},
          {"labels", {{kJobNameLabel, job.metadata.name}}},
          {"ownerReferences", json::array({OwnerReference(job)})}};
}

void InjectEnv(json& containers, const std::vector<std::pair<std::string, std::string>>& env) {
  if (!containers.is_array()) return;
  for (json& c : containers) {
    if (!c.contains("env") || !c["env"].is_array()) c["env"] = json::array();
    for (const auto& [name, value] : env) c["env"].push_back({{"name", name}, {"value", value}});
  }
}

}  // namespace

json OwnerReference(const api::TrainingJob& job) {
  json ref = {{"apiVersion", api::kApiVersion},
              {"kind", api::kKind},
              {"name", job.metadata.name},
              {"controller", true},
              {"blockOwnerDeletion", true}};
  if (!job.metadata.uid.empty()) ref["uid"] = job.metadata.uid;
  return ref;
}

std::string SchedulerNameFor(const api::TrainingJob& job) {
  if (!job.spec.gang.scheduler_name.empty()) return job.spec.gang.scheduler_name;
  switch (job.spec.gang.scheduler) {
    case GangScheduler::kVolcano: return kVolcanoSchedulerName;
    case GangScheduler::kCoscheduling: return kCoschedulingSchedulerName;
    default: return "";
  }
}

json BuildService(const api::TrainingJob& job) {
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", ChildMetadata(job, job.metadata.name)}};
  svc["spec"] = {
      {"clusterIP", "None"},
      // Workers must resolve rank 0 before it is Ready: rendezvous is what makes it ready.
      {"publishNotReadyAddresses", true},
      {"selector", {{kJobNameLabel, job.metadata.name}}},
      {"ports", json::array({{{"name", kRendezvousPortName},
                               {"port", job.spec.port},
                               {"targetPort", job.spec.port},
                               {"protocol", "TCP"}}})}};
  return svc;
}

json BuildWorkerPod(const api::TrainingJob& job, int64_t rank, int64_t attempt) {
  const json& tmpl = job.spec.pod_template;
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json meta = ChildMetadata(job, api::WorkerPodName(job.metadata.name, rank));
  if (tmpl.contains("metadata") && tmpl["metadata"].is_object()) {
    const json& tm = tmpl["metadata"];
    if (tm.contains("labels") && tm["labels"].is_object()) {
      for (auto it = tm["labels"].begin(); it != tm["labels"].end(); ++it) meta["labels"][it.key()] = it.value();
    }
    if (tm.contains("annotations") && tm["annotations"].is_object()) meta["annotations"] = tm["annotations"];
  }
  meta["labels"][kJobNameLabel] = job.metadata.name;
  meta["labels"][kRankLabel] = std::to_string(rank);
  meta["labels"][kAttemptLabel] = std::to_string(attempt);

  json spec = tmpl.contains("spec") && tmpl["spec"].is_object() ? tmpl["spec"] : json::object();
  spec["hostname"] = api::WorkerPodName(job.metadata.name, rank);
  spec["subdomain"] = job.metadata.name;
  spec["restartPolicy"] = "Never";  // the operator restarts whole gangs, never single pods
  if (!job.spec.gang.priority_class_name.empty() && !spec.contains("priorityClassName")) {
    spec["priorityClassName"] = job.spec.gang.priority_class_name;
  }
  std::string scheduler_name = SchedulerNameFor(job);
  if (!scheduler_name.empty()) spec["schedulerName"] = scheduler_name;
  switch (job.spec.gang.scheduler) {
    case GangScheduler::kBuiltin:
      if (!spec.contains("schedulingGates") || !spec["schedulingGates"].is_array()) {
        spec["schedulingGates"] = json::array();
      }
      spec["schedulingGates"].push_back({{"name", kGangSchedulingGate}});
      break;
    case GangScheduler::kVolcano:
      meta["annotations"][kVolcanoGroupAnnotation] = job.metadata.name;
      break;
    case GangScheduler::kCoscheduling:
      meta["labels"][kCoschedulingGroupLabel] = job.metadata.name;
      break;
    case GangScheduler::kNone:
      break;
  }
  api::WorkerEnvParams params;
  params.worker_rank = rank;
  params.attempt = attempt;
  auto env = api::BuildWorkerEnv(job, params);
  if (spec.contains("containers")) InjectEnv(spec["containers"], env);
  if (spec.contains("initContainers")) InjectEnv(spec["initContainers"], env);
  pod["metadata"] = std::move(meta);
  pod["spec"] = std::move(spec);
  return pod;
}

std::vector<json> BuildWorkerPods(const api::TrainingJob& job, int64_t attempt) {
  std::vector<json> pods;
  pods.reserve(static_cast<size_t>(std::max<int64_t>(job.spec.workers, 0)));
  for (int64_t rank = 0; rank < job.spec.workers; ++rank) pods.push_back(BuildWorkerPod(job, rank, attempt));
  return pods;
}

std::optional<json> BuildPodGroup(const api::TrainingJob& job) {
  const api::GangSpec& gang = job.spec.gang;
  if (gang.scheduler == GangScheduler::kVolcano) {
    json pg = {{"apiVersion", "scheduling.volcano.sh/v1beta1"},
               {"kind", "PodGroup"},
               {"metadata", ChildMetadata(job, job.metadata.name)}};
    json spec = {{"minMember", job.spec.workers}};
    api::ResourceList per_pod = api::PodRequests(
        job.spec.pod_template.contains("spec") ? job.spec.pod_template["spec"] : json::object());
    if (!per_pod.empty()) {
      json min_resources = json::object();
      for (const auto& [name, milli] : per_pod) {
        min_resources[name] = api::FormatQuantityMilli(milli * job.spec.workers);
      }
      spec["minResources"] = min_resources;
    }
    if (!gang.queue.empty()) spec["queue"] = gang.queue;
    if (!gang.priority_class_name.empty()) spec["priorityClassName"] = gang.priority_class_name;
    pg["spec"] = spec;
    return pg;
  }
  if (gang.scheduler == GangScheduler::kCoscheduling) {
    json pg = {{"apiVersion", "scheduling.x-k8s.io/v1alpha1"},
               {"kind", "PodGroup"},
               {"metadata", ChildMetadata(job, job.metadata.name)}};
    pg["spec"] = {{"minMember", job.spec.workers}, {"scheduleTimeoutSeconds", gang.timeout_seconds}};
    return pg;
  }
  return std::nullopt;
}

std::vector<json> BuildAllChildren(const api::TrainingJob& job, int64_t attempt) {
  std::vector<json> out;
  out.push_back(BuildService(job));
  if (auto pg = BuildPodGroup(job)) out.push_back(*pg);
  for (json& pod : BuildWorkerPods(job, attempt)) out.push_back(std::move(pod));
  return out;
}

}  // namespace ringleader::controller
