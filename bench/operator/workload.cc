#include "workload.h"

#include <algorithm>
#include <cstdio>

namespace ringleader::bench {

using kube::Json;

Json TrainingJobObject(const std::string& name, int workers, const std::string& scheduler,
                       const std::string& cpu) {
  Json container = {{"name", "trainer"},
                    {"image", "ringleader/worker:bench"},
                    {"command", Json::array({"ringleader-worker", "train"})},
                    {"resources", {{"requests", {{"cpu", cpu}, {"memory", "16Mi"}}}}}};
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"workers", workers},
            {"gang", {{"scheduler", scheduler}}},
            {"template", {{"spec", {{"containers", Json::array({container})}}}}}}}};
}

std::vector<Json> JobObjects(const Options& options, const std::string& scheduler, int pods,
                             const std::string& prefix) {
  std::vector<Json> jobs;
  for (int i = 0; pods > 0; ++i) {
    int workers = std::min(pods, options.workers_per_job);
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05d", prefix.c_str(), i);
    jobs.push_back(TrainingJobObject(name, workers, scheduler));
    pods -= workers;
  }
  return jobs;
}

}  // namespace ringleader::bench
