#include "ringleader/api/trainingjob.h"

#include <algorithm>

#include "ringleader/api/field_error.h"

namespace ringleader::api {
namespace {

template <typename Enum>
std::optional<Enum> ParseByIndex(const std::vector<std::string>& names, const std::string& s) {
  auto it = std::find(names.begin(), names.end(), s);
  if (it == names.end()) return std::nullopt;
  return static_cast<Enum>(it - names.begin());
}

}  // namespace

// The vectors below are indexed by the enum value: keep the order of the enums.
const std::vector<std::string>& GangSchedulerNames() {
  static const std::vector<std::string> names = {"Builtin", "Volcano", "Coscheduling", "None"};
  return names;
}
const std::vector<std::string>& RestartPolicyNames() {
  static const std::vector<std::string> names = {"OnFailure", "Never", "ExitCode"};
  return names;
}
const std::vector<std::string>& CleanPodPolicyNames() {
  static const std::vector<std::string> names = {"Running", "All", "None"};
  return names;
}
const std::vector<std::string>& SuccessPolicyNames() {
  static const std::vector<std::string> names = {"AllWorkers", "RankZero"};
  return names;
}
const std::vector<std::string>& JobPhaseNames() {
  static const std::vector<std::string> names = {
      "Pending", "Scheduling", "Running", "Restarting", "Succeeded", "Failed", "Suspended", "Queued"};
  return names;
}
const std::vector<std::string>& ConditionTypeNames() {
  static const std::vector<std::string> names = {
      "Admitted", "GangScheduled", "Running", "Restarting", "Succeeded", "Failed", "Suspended"};
  return names;
}
const std::vector<std::string>& ConditionStatusNames() {
  static const std::vector<std::string> names = {"True", "False", "Unknown"};
  return names;
}

const char* ToString(GangScheduler v) { return GangSchedulerNames()[static_cast<int>(v)].c_str(); }
const char* ToString(RestartPolicy v) { return RestartPolicyNames()[static_cast<int>(v)].c_str(); }
const char* ToString(CleanPodPolicy v) {
  return CleanPodPolicyNames()[static_cast<int>(v)].c_str();
}
const char* ToString(SuccessPolicy v) { return SuccessPolicyNames()[static_cast<int>(v)].c_str(); }
const char* ToString(JobPhase v) { return JobPhaseNames()[static_cast<int>(v)].c_str(); }

std::optional<GangScheduler> ParseGangScheduler(const std::string& s) {
  return ParseByIndex<GangScheduler>(GangSchedulerNames(), s);
}
std::optional<RestartPolicy> ParseRestartPolicy(const std::string& s) {
  return ParseByIndex<RestartPolicy>(RestartPolicyNames(), s);
}
std::optional<CleanPodPolicy> ParseCleanPodPolicy(const std::string& s) {
  return ParseByIndex<CleanPodPolicy>(CleanPodPolicyNames(), s);
}
std::optional<SuccessPolicy> ParseSuccessPolicy(const std::string& s) {
  return ParseByIndex<SuccessPolicy>(SuccessPolicyNames(), s);
}
std::optional<JobPhase> ParseJobPhase(const std::string& s) {
  return ParseByIndex<JobPhase>(JobPhaseNames(), s);
}

std::string JoinFieldErrors(const std::vector<FieldError>& errors, const std::string& separator) {
  std::string out;
  for (const FieldError& e : errors) {
    if (!out.empty()) out += separator;
    out += e.ToString();
  }
  return out;
}

}  // namespace ringleader::api
