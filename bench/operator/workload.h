#pragma once
// What operator_bench submits: TrainingJob objects of the bench's worker image (pods request
// `cpu` and 16Mi), and --workers-per-job-sized jobs that add up to a pod count. Pure functions.

#include <string>
#include <vector>

#include "options.h"
#include "ringleader/kube/client.h"

namespace ringleader::bench {

kube::Json TrainingJobObject(const std::string& name, int workers, const std::string& scheduler,
                             const std::string& cpu = "10m");

// Jobs named `prefix`-00000, ... of options.workers_per_job workers (the last one smaller) that
// hold `pods` pods in all.
std::vector<kube::Json> JobObjects(const Options& options, const std::string& scheduler, int pods,
                                   const std::string& prefix);

}  // namespace ringleader::bench
