#pragma once
// The quota arithmetic of the Kueue stand-in (kueue_admitter.cc): what a Workload's pod sets
// need, which flavors of a ClusterQueue can give it, and the usage an admission holds. Pure
// functions over JSON objects; internal to ringleader_testing.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ringleader::testapi::kueue_quota {

using nlohmann::json;

using Usage = std::map<std::string, std::map<std::string, int64_t>>;  // flavor → resource → milli

// Milli-units as a Kubernetes quantity ("2", "1500m").
std::string FormatMilli(int64_t milli);

struct PodSetNeed {
  std::string name;
  int64_t count = 0;
  std::map<std::string, int64_t> total;  // resource → milli, for all pods
  json node_selector = json::object();
  json tolerations = json::array();
};

struct Assignment {
  std::string pod_set;
  int64_t count = 0;
  std::map<std::string, std::string> flavors;  // resource → flavor
  std::map<std::string, int64_t> usage;        // resource → milli
};

// Assigns flavors to every pod set, or says why not (Kueue's "couldn't assign flavors" text).
bool AssignFlavors(const std::vector<PodSetNeed>& needs, const json& cq, const Usage& used,
                   const std::map<std::string, json>& flavors, std::vector<Assignment>* out, std::string* why);
// The pod sets of a Workload with their total requests (count × one pod's).
std::vector<PodSetNeed> NeedsOf(const json& wl);
// Adds (sign 1) or removes (sign -1) the resourceUsage of a status.admission.
void AddUsage(Usage& usage, const json& admission, int64_t sign);
// The status.admission Kueue writes for a Workload given these flavor assignments.
json AdmissionOf(const std::string& cq_name, const std::vector<Assignment>& assigned);

}  // namespace ringleader::testapi::kueue_quota
