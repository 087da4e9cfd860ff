#pragma once
// Node loss, disruptions and stuck pods: what the state machine needs to restart a gang at
// once when one of its workers' nodes is gone, and to keep a pod that a dead node's kubelet
// will never confirm from holding up the next attempt. Pure functions of observed pods and
// nodes (no client, no clock: `now` is passed in).
//
// A node is lost when its Ready condition is not True (NotReady, or Unknown once its kubelet
// stopped posting status) or it carries the node.kubernetes.io/unreachable or
// node.kubernetes.io/not-ready NoExecute taint, or node.kubernetes.io/out-of-service (the
// administrator says it is shut down). The operator does not wait for the node lifecycle
// controller's eviction (by default 5 minutes later): a gang with a worker there cannot train.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/policy/observed_pod.h"
#include "ringleader/policy/restart_policy.h"

namespace ringleader::controller {

struct NodeHealth {
  bool lost = false;
  // node.kubernetes.io/out-of-service: Kubernetes' non-graceful node shutdown. Its pods are
  // force-deleted at once (as the pod GC controller does), not after their grace period.
  bool out_of_service = false;
  std::string why;  // "Ready=Unknown (NodeStatusUnknown)", "taint node.kubernetes.io/unreachable"
};

// Lost nodes by name (healthy nodes are left out).
using LostNodes = std::map<std::string, NodeHealth>;

NodeHealth NodeHealthFromJson(const nlohmann::json& node);

// The restart reason of a DisruptionTarget condition's reason: PreemptionByScheduler ->
// Preempted, EvictionByEvictionAPI and TerminationByKubelet -> Evicted, DeletionByTaintManager
// and DeletionByPodGC -> NodeLost; a kubelet's pod status.reason (Evicted, Preempted, ...)
// passes through.
std::string DisruptionReason(const std::string& raw);

// Why a worker of the running attempt can no longer run, other than its own exit: its node is
// lost (NodeLost) or Kubernetes marked its pod DisruptionTarget (Preempted, Evicted, ...).
// The message names the pod and the node. nullopt when neither.
std::optional<AttemptFailure> WorkerDisruption(const ObservedPod& pod, const LostNodes& lost_nodes);

// True when the pod will never go away by itself soon: it is on a lost node, whose kubelet
// cannot confirm the deletion. Such a pod does not hold up the next attempt.
bool OnLostNode(const ObservedPod& pod, const LostNodes& lost_nodes);

struct StuckPod {
  std::string name;
  std::string message;  // for the ForceDeleted Event
};

struct StuckPods {
  std::vector<StuckPod> force_delete;
  // When the next pod on a lost node becomes stuck (to look again then).
  std::optional<std::chrono::system_clock::time_point> next_check;
};

// Pods being deleted on a lost node whose grace period ended more than `margin` ago
// (deletionTimestamp is the end of the grace period), or at once on an out-of-service node:
// the kubelet that would confirm them is gone, so they are force-deleted (grace period 0).
// A pod on a live node always gets its grace period, however long.
StuckPods FindStuckPods(const std::vector<ObservedPod>& pods, const LostNodes& lost_nodes,
                        std::chrono::system_clock::time_point now, std::chrono::milliseconds margin);

}  // namespace ringleader::controller
