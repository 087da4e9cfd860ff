#include "ringleader/common/rfc3339.h"
#include "ringleader/policy/trainingjob_state.h"

namespace ringleader::controller {

void HoldForMissingPodGroupCrd(const StateInput& input, const StateOptions& options, StatePlan& plan) {
  if (input.missing_podgroup_api.empty() || !plan.create_podgroup) return;
  const api::TrainingJob& job = input.job;
  const std::string message = "PodGroup " + input.missing_podgroup_api + " is not served by this cluster: install " +
                              std::string(api::ToString(job.spec.gang.scheduler)) +
                              " or set spec.gang.scheduler to Builtin";
  const api::Condition* before = FindCondition(job.status.conditions, "Admitted");
  // Keep what the state machine computed (worker counts, ready), but not the admission and
  // the start of the gang it assumed.
  plan.status.start_time = job.status.start_time;
  plan.status.conditions = job.status.conditions;
  plan.status.phase = api::JobPhase::kPending;
  plan.status.message = message;
  SetCondition(plan.status.conditions, "Admitted", "False", kPodGroupCrdMissing, message, FormatRfc3339(input.now),
               job.metadata.generation);
  plan.events.clear();
  if (before == nullptr || before->reason != kPodGroupCrdMissing) {
    plan.events.push_back({"Warning", kPodGroupCrdMissing, message});
  }
  plan.create_ranks.clear();
  plan.create_names.clear();
  plan.create_service = false;
  plan.ungate_pods.clear();
  plan.admitted = false;
  plan.requeue_after = options.podgroup_crd_retry;
}

}  // namespace ringleader::controller
