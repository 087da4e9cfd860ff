#include "ringleader/controller/builtin_job_index.h"

#include "ringleader/api/validation.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/trainingjob_state.h"

namespace ringleader::controller {

AdmissionOrder AdmissionOrderOf(const api::TrainingJob& job) {
  return {job.metadata.creation_timestamp, job.metadata.namespace_ + "/" + job.metadata.name, job.metadata.uid};
}

PodDemand DemandOf(const api::TrainingJob& job) {
  nlohmann::json pod = BuildWorkerPod(job, 0, job.status.attempt);
  return PodDemandFromSpec(pod["spec"]);
}

namespace {

bool HoldsAdmission(const api::TrainingJob& job) {
  const auto& phase = job.status.phase;
  bool active = phase != api::JobPhase::kSucceeded && phase != api::JobPhase::kFailed &&
                phase != api::JobPhase::kSuspended && phase != api::JobPhase::kRestarting &&
                !job.spec.run_policy.suspend;
  const api::Condition* admitted = FindCondition(job.status.conditions, "Admitted");
  return active && admitted != nullptr && admitted->status == "True";
}

}  // namespace

void BuiltinJobIndex::Observe(const nlohmann::json& object) {
  std::string uid = json_fields::MetadataString(object, "uid");
  if (uid.empty()) return;
  std::vector<api::FieldError> errors;
  api::TrainingJob job = api::ParseTrainingJob(object, &errors);
  if (!errors.empty() || job.spec.gang.scheduler != api::GangScheduler::kBuiltin) {
    Forget(object);
    return;
  }
  auto entry = std::make_shared<Entry>();
  {
    // The demand depends on the spec only: unchanged generation, unchanged demand (status
    // updates are most job events and spare building a worker pod each).
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_uid_.find(uid);
    if (it != by_uid_.end() && it->second->job.metadata.generation == job.metadata.generation &&
        job.metadata.generation != 0) {
      entry->demand = it->second->demand;
    }
  }
  if (entry->demand.shape.empty()) entry->demand = DemandOf(job);
  job.spec.pod_template = nullptr;
  entry->order = AdmissionOrderOf(job);
  entry->holds_admission = HoldsAdmission(job);
  entry->job = std::move(job);
  std::lock_guard<std::mutex> lock(mu_);
  EntryPtr& slot = by_uid_[uid];
  if (slot) ordered_.erase(slot->order);
  slot = std::move(entry);
  ordered_[slot->order] = slot;
}

void BuiltinJobIndex::Forget(const nlohmann::json& object) {
  std::string uid = json_fields::MetadataString(object, "uid");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return;
  ordered_.erase(it->second->order);
  by_uid_.erase(it);
}

kube::EventHandlers BuiltinJobIndex::Handlers() {
  return kube::MirrorHandlers([this](const nlohmann::json& job) { Observe(job); },
                              [this](const nlohmann::json& job) { Forget(job); });
}

std::vector<std::string> BuiltinJobIndex::WaitingForAdmission() const {
  std::vector<std::string> keys;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [order, entry] : ordered_) {
    const auto& phase = entry->job.status.phase;
    if (!phase || *phase == api::JobPhase::kPending) {
      keys.push_back(entry->job.metadata.namespace_ + "/" + entry->job.metadata.name);
    }
  }
  return keys;
}

size_t BuiltinJobIndex::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_uid_.size();
}

}  // namespace ringleader::controller
