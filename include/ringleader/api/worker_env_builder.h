#pragma once
// Builds the worker environment contract (common/worker_contract.h names the variables) for
// a worker Pod of a TrainingJob, as the operator and local mode inject it; the runtime's
// rendezvous/worker_env_parser.h reads it back. docs/runtime.md describes each variable.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ringleader/api/trainingjob.h"

namespace ringleader::api {

struct WorkerEnvParams {
  int64_t worker_rank = 0;
  int64_t attempt = 0;
  // Where rank 0 listens: `<job>-worker-0.<job>.<ns>.svc` in a cluster, 127.0.0.1 locally.
  std::string master_addr;
  int64_t master_port = 0;  // 0: spec.port
  // Where checkpoints go, when not spec.checkpointDir as written (local mode maps the
  // container path to a directory of its run).
  std::optional<std::string> checkpoint_dir;
};

// Name/value pairs in a fixed order (InjectedEnvNames() order).
std::vector<std::pair<std::string, std::string>> BuildWorkerEnv(const TrainingJob& job,
                                                                const WorkerEnvParams& params);

// `<job>-worker-0.<job>.<namespace>.svc`: the stable DNS name of rank 0 through the
// headless Service (pods set hostname + subdomain).
std::string ClusterMasterAddress(const TrainingJob& job);

std::string WorkerPodName(const std::string& job_name, int64_t rank);

}  // namespace ringleader::api
