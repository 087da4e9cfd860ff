#pragma once
// BoundPodLedger: the requests of the pods bound to each node, kept current from the pod
// informers' events, so that a Builtin admission check costs O(nodes) rather than a pass
// over every cached pod (with 10k pods, that pass was a third of the operator's CPU).
//
// A pod counts while it holds capacity (HoldsCapacity: bound, not finished), keyed by uid.
// Fed by every event of every pod informer (relists included), it agrees with the caches.
//
// Thread-safety: all members are thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/quantity.h"
#include "ringleader/kube/informer.h"

namespace ringleader::controller {

class BoundPodLedger {
 public:
  struct Snapshot {
    // Per node: the requests of its bound pods, one pod slot ("pods": 1000) each included.
    std::map<std::string, api::ResourceList> held_by_node;
    // Per controller owner uid: how many of its pods are bound.
    std::unordered_map<std::string, int64_t> bound_by_owner;
  };

  // An added or updated pod: counted if it holds capacity, no longer counted otherwise.
  void Observe(const nlohmann::json& pod);
  // A deleted pod.
  void Forget(const nlohmann::json& pod);
  // Informer handlers calling Observe and Forget.
  kube::EventHandlers Handlers();

  Snapshot Take() const;
  size_t Size() const;  // pods counted

 private:
  struct Entry {
    std::string node;
    std::string owner_uid;
    std::vector<std::pair<std::string, int64_t>> requests;  // pod slot included
  };
  void RemoveLocked(const std::string& uid);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> pods_;  // uid →
  Snapshot totals_;
};

}  // namespace ringleader::controller
