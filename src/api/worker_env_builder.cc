#include "ringleader/api/worker_env_builder.h"

#include "ringleader/common/worker_contract.h"

namespace ringleader::api {

std::string WorkerPodName(const std::string& job_name, int64_t rank) {
  return job_name + "-worker-" + std::to_string(rank);
}

std::string ClusterMasterAddress(const TrainingJob& job) {
  const std::string ns = job.metadata.namespace_.empty() ? "default" : job.metadata.namespace_;
  return WorkerPodName(job.metadata.name, 0) + "." + job.metadata.name + "." + ns + ".svc";
}

std::vector<std::pair<std::string, std::string>> BuildWorkerEnv(const TrainingJob& job,
                                                                const WorkerEnvParams& p) {
  const TrainingJobSpec& s = job.spec;
  const std::string ns = job.metadata.namespace_.empty() ? "default" : job.metadata.namespace_;
  const std::string port = std::to_string(p.master_port != 0 ? p.master_port : s.port);
  const std::string addr = p.master_addr.empty() ? ClusterMasterAddress(job) : p.master_addr;
  const std::string workers = std::to_string(s.workers);
  const std::string rank = std::to_string(p.worker_rank);
  const std::string ppw = std::to_string(s.processes_per_worker);
  // PyTorch's WORLD_SIZE/RANK count processes: the pod's first process is rank r * ppw, and
  // `ringleader-worker launch` (or torchrun, via PET_*) sets the per-process values.
  using namespace contract;
  return {
      {kEnvJobName, job.metadata.name},
      {kEnvNamespace, ns},
      {kEnvNumWorkers, workers},
      {kEnvWorkerRank, rank},
      {kEnvProcsPerWorker, ppw},
      {kEnvMasterAddr, addr},
      {kEnvMasterPort, port},
      {kEnvAttempt, std::to_string(p.attempt)},
      {kEnvCheckpointDir, p.checkpoint_dir.value_or(s.checkpoint_dir)},
      {kEnvMaxInPlaceRestarts, std::to_string(s.run_policy.restart_policy == RestartPolicy::kNever
                                                  ? 0
                                                  : s.run_policy.in_place_restarts)},
      {kEnvRestartPolicy, ToString(s.run_policy.restart_policy)},
      {kEnvTorchMasterAddr, addr},
      {kEnvTorchMasterPort, port},
      {kEnvTorchWorldSize, std::to_string(s.workers * s.processes_per_worker)},
      {kEnvTorchRank, std::to_string(p.worker_rank * s.processes_per_worker)},
      {kEnvPetNnodes, workers},
      {kEnvPetNodeRank, rank},
      {kEnvPetNprocPerNode, ppw},
      {kEnvPetMasterAddr, addr},
      {kEnvPetMasterPort, port},
  };
}

}  // namespace ringleader::api
