#pragma once
// BuiltinJobIndex: every valid Builtin TrainingJob, parsed once per job event and kept in
// admission order (oldest first), so that an admission check walks ready-made entries instead
// of looking up, parsing and sorting every cached job (with 1250 jobs that was two thirds of
// the operator's CPU: the check ran once per job, so the cost grew with the square).
//
// Fed by the job informers' events (relists included), it agrees with the job caches.
// Thread-safety: all members are thread-safe; entries are immutable once published.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/trainingjob.h"
#include "ringleader/policy/gang_admission.h"
#include "ringleader/kube/informer.h"

namespace ringleader::controller {

// Admission order: older first, then namespace/name, then uid (a stable, total order).
using AdmissionOrder = std::tuple<std::string, std::string, std::string>;
AdmissionOrder AdmissionOrderOf(const api::TrainingJob& job);

// What one worker of the job's current spec asks of a node.
PodDemand DemandOf(const api::TrainingJob& job);

class BuiltinJobIndex {
 public:
  struct Entry {
    api::TrainingJob job;  // spec.template dropped: `demand` is what admission reads of it
    PodDemand demand;
    AdmissionOrder order;
    // Active (not finished, suspended or restarting) with Admitted=True: the workers it has
    // not bound yet hold capacity.
    bool holds_admission = false;
  };
  using EntryPtr = std::shared_ptr<const Entry>;

  // An added or updated job: indexed if valid and Builtin, dropped otherwise.
  void Observe(const nlohmann::json& job);
  void Forget(const nlohmann::json& job);
  kube::EventHandlers Handlers();

  // The entries in admission order and by uid, read under the index's lock (held while the
  // view lives: job events wait), without copying a pointer per job.
  class View {
   public:
    const std::map<AdmissionOrder, EntryPtr>& in_order() const { return index_.ordered_; }
    const Entry* Find(const std::string& uid) const {
      auto it = index_.by_uid_.find(uid);
      return it == index_.by_uid_.end() ? nullptr : it->second.get();
    }

   private:
    friend class BuiltinJobIndex;
    explicit View(const BuiltinJobIndex& index) : lock_(index.mu_), index_(index) {}
    std::unique_lock<std::mutex> lock_;
    const BuiltinJobIndex& index_;
  };
  View Lock() const { return View(*this); }

  // namespace/name of the jobs not admitted yet (no phase, or Pending): the ones that freed
  // capacity may let in.
  std::vector<std::string> WaitingForAdmission() const;
  size_t Size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, EntryPtr> by_uid_;
  std::map<AdmissionOrder, EntryPtr> ordered_;
};

}  // namespace ringleader::controller
