#include "ringleader/controller/cache_fields.h"

#include <cstdlib>
#include <string_view>

#include "ringleader/common/json_fields.h"
#include "ringleader/policy/labels.h"

namespace ringleader::controller {

using kube::Json;

namespace {

kube::FieldList ParseConstant(const char* spelling) {
  auto list = kube::FieldList::Parse(spelling);
  if (!list.ok()) std::abort();  // a constant of this file: the unit tests parse it
  return std::move(list).value();
}

bool IsControllerReference(const Json& ref) { return ref.is_object() && json_fields::BoolField(ref, "controller"); }

bool IsConditionTheReconcilerReads(const Json& condition) {
  if (!condition.is_object()) return false;  // server JSON: never let a wrong type throw here
  const std::string& type = json_fields::StringRef(condition, "type");
  return type == "Ready" || type == "DisruptionTarget";
}

// Only how a container ended is read (exit code, reason, finish time).
bool HasTerminated(const Json& container_status) {
  if (!container_status.is_object()) return false;
  auto state = container_status.find("state");
  if (state == container_status.end() || !state->is_object()) return false;
  auto terminated = state->find("terminated");
  return terminated != state->end() && terminated->is_object();
}

}  // namespace

const kube::FieldList& PodCacheFields() {
  static const kube::FieldList fields = [] {
    kube::FieldList list = ParseConstant(
        "metadata(name,namespace,uid,resourceVersion,deletionTimestamp,labels,"
        "ownerReferences(apiVersion,kind,name,uid,controller)),"
        "spec(nodeName,schedulingGates,overhead,containers(resources(requests),restartPolicy),"
        "initContainers(resources(requests),restartPolicy)),"
        "status(phase,reason,message,conditions(type,status,reason),"
        "containerStatuses(state(terminated(exitCode,reason,finishedAt))))");
    // Each cached node costs ~100 bytes and a cluster has many pods: keep only our labels.
    list.KeepMembersWhere("metadata.labels",
                          [](std::string_view key) { return key.rfind(kLabelPrefix, 0) == 0; })
        .DropWhenEmpty("metadata.labels")
        .KeepFirstElementWhere("metadata.ownerReferences", IsControllerReference)
        .DropWhenEmpty("metadata.ownerReferences")
        .KeepElementsWhere("status.conditions", IsConditionTheReconcilerReads)
        .KeepElementsWhere("status.containerStatuses", HasTerminated)
        .DropWhenEmpty("status.containerStatuses");
    return list;
  }();
  return fields;
}

const kube::FieldList& ServiceCacheFields() {
  static const kube::FieldList fields =
      ParseConstant("metadata(name,namespace,uid,resourceVersion,ownerReferences,deletionTimestamp)");
  return fields;
}

void TrimPodForCache(Json& pod) { PodCacheFields().Trim(pod); }
std::shared_ptr<const kube::FieldMask> PodCacheMask() { return PodCacheFields().mask(); }
void TrimServiceForCache(Json& service) { ServiceCacheFields().Trim(service); }
std::shared_ptr<const kube::FieldMask> ServiceCacheMask() { return ServiceCacheFields().mask(); }

// status.images alone is often most of a node's bytes.
void TrimNodeForCache(Json& node) {
  if (!node.is_object()) return;
  Json trimmed = Json::object();
  if (node.contains("metadata")) {
    for (const char* key : {"name", "uid", "resourceVersion", "labels"}) {
      if (node["metadata"].contains(key)) trimmed["metadata"][key] = std::move(node["metadata"][key]);
    }
  }
  if (node.contains("spec")) {
    for (const char* key : {"taints", "unschedulable"}) {
      if (node["spec"].contains(key)) trimmed["spec"][key] = std::move(node["spec"][key]);
    }
  }
  if (node.contains("status")) {
    if (node["status"].contains("allocatable")) trimmed["status"]["allocatable"] = std::move(node["status"]["allocatable"]);
    if (node["status"].contains("conditions") && node["status"]["conditions"].is_array()) {
      Json conditions = Json::array();
      for (Json& c : node["status"]["conditions"]) {
        if (c.is_object() && json_fields::StringRef(c, "type") == "Ready") {
          const std::string& status = json_fields::StringRef(c, "status");
          conditions.push_back({{"type", "Ready"}, {"status", status.empty() ? "Unknown" : status}});
        }
      }
      trimmed["status"]["conditions"] = std::move(conditions);
    }
  }
  node = std::move(trimmed);
}

void TrimTrainingJobForCache(Json& job) {
  if (!job.is_object() || !job.contains("metadata") || !job["metadata"].is_object()) return;
  Json& meta = job["metadata"];
  meta.erase("managedFields");
  if (auto annotations = meta.find("annotations"); annotations != meta.end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (annotations->empty()) meta.erase("annotations");
  }
}

}  // namespace ringleader::controller
