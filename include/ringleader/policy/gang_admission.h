#pragma once
// Builtin gang admission: does the whole gang fit the cluster's free capacity right now?
//
// Free capacity per node = allocatable − requests of non-terminal pods bound to it, on Ready,
// schedulable nodes whose labels match the pod's nodeSelector and whose NoSchedule/NoExecute
// taints the pod tolerates. Gangs already admitted but not yet bound reserve capacity first
// (placed in age order), then this gang's workers are placed first-fit, one per slot, so
// that a gang of 8-GPU workers needs nodes with 8 free GPUs each, not 8 GPUs anywhere.
// Pure: nodes and pods come in as values.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/quantity.h"

namespace ringleader::controller {

struct Taint {
  std::string key, value, effect;
};

struct NodeCapacity {
  std::string name;
  api::ResourceList allocatable;  // includes "pods" (max pod count, in milli-units)
  std::map<std::string, std::string> labels;
  std::vector<Taint> taints;
  bool ready = false;
  bool unschedulable = false;
};

// What one pod needs in order to land on a node.
struct PodDemand {
  api::ResourceList requests;  // "pods" is added (one pod) by the admission check itself
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();
  // Equal for equal demands (PodDemandFromSpec sets it; "" : unknown). Within one
  // FreeCapacity, a node that cannot take one more pod of a shape never can again (free
  // capacity only shrinks), so placements of the same shape resume where the last one ended:
  // with 1250 admitted gangs waiting to be bound, first-fit from node 0 each time made a check
  // O(gangs x nodes).
  std::string shape;
};

struct BoundPod {
  std::string node_name;
  api::ResourceList requests;
};

// A gang admitted earlier whose pods are not bound yet: it holds capacity for them.
struct ReservedGang {
  PodDemand pod;
  int64_t unbound_pods = 0;
};

struct AdmissionResult {
  bool fits = false;
  std::string message;  // for Admitted=False: "needs 16 nvidia.com/gpu, 8 free"
};

NodeCapacity NodeCapacityFromJson(const nlohmann::json& node);
PodDemand PodDemandFromSpec(const nlohmann::json& pod_spec);
// A pod that holds capacity: non-terminal and bound (spec.nodeName set).
bool HoldsCapacity(const nlohmann::json& pod);
BoundPod BoundPodFromJson(const nlohmann::json& pod);
// What a pod takes from its node: its requests plus one pod slot ("pods": 1000 milli).
api::ResourceList RequestsWithPodSlot(api::ResourceList requests);

// The free capacity of the cluster as gangs are placed one after another, so that a check
// over many waiting gangs costs one placement each (not a recomputation per gang).
class FreeCapacity {
 public:
  FreeCapacity(const std::vector<NodeCapacity>& nodes, const std::vector<BoundPod>& bound);
  // `held_by_node`: what bound pods hold per node, pod slots included (BoundPodLedger).
  FreeCapacity(const std::vector<NodeCapacity>& nodes, const std::map<std::string, api::ResourceList>& held_by_node);
  // The same, sharing the nodes instead of copying them (admission runs once per gang).
  FreeCapacity(std::shared_ptr<const std::vector<NodeCapacity>> nodes,
               const std::map<std::string, api::ResourceList>& held_by_node);
  // Holds capacity for an admitted gang's unbound pods (as many as still fit).
  void Reserve(const ReservedGang& gang) { Reserve(gang.pod, gang.unbound_pods); }
  void Reserve(const PodDemand& pod, int64_t unbound_pods);
  // Whether `workers` pods of `pod` fit now; with `commit`, a gang that fits keeps its place.
  AdmissionResult TryAdmit(const PodDemand& pod, int64_t workers, bool commit);
  // TryAdmit without the message, and O(1) for a shape that already failed with as few
  // workers (a queue of 1000 waiting gangs is checked in every admission).
  bool Admit(const PodDemand& pod, int64_t workers, bool commit);

 private:
  std::shared_ptr<const std::vector<NodeCapacity>> nodes_;
  std::vector<api::ResourceList> free_;  // per node, parallel to *nodes_
  // Places the gang on free_; keeps it only if all fit and `keep`. Returns how many fit.
  int64_t PlaceGang(const PodDemand& pod, int64_t workers, bool keep);
  // Where first-fit of `pod` starts: its shape's entry of first_open_, or (no shape) node 0
  // in *scratch.
  size_t* FirstOpen(const PodDemand& pod, size_t* scratch);

  std::unordered_map<std::string, size_t> first_open_;  // PodDemand::shape → first node that may fit
  std::unordered_map<std::string, int64_t> fails_from_;  // PodDemand::shape → fewest workers that did not fit
};

// One-shot form: nodes − bound pods − reserved gangs, then this gang.
AdmissionResult CheckGangFits(const std::vector<NodeCapacity>& nodes, const std::vector<BoundPod>& bound,
                              const std::vector<ReservedGang>& reserved, const PodDemand& pod,
                              int64_t workers);

// "4", "500m", "16Gi": a resource amount for messages.
std::string FormatResourceAmount(const std::string& resource, int64_t milli);

}  // namespace ringleader::controller
