#include "ringleader/api/worker_env.h"

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
  return {
      {"RINGLEADER_JOB_NAME", job.metadata.name},
      {"RINGLEADER_NAMESPACE", ns},
      {"RINGLEADER_NUM_WORKERS", workers},
      {"RINGLEADER_WORKER_RANK", rank},
      {"RINGLEADER_PROCS_PER_WORKER", ppw},
      {"RINGLEADER_MASTER_ADDR", addr},
      {"RINGLEADER_MASTER_PORT", port},
      {"RINGLEADER_ATTEMPT", std::to_string(p.attempt)},
      {"MASTER_ADDR", addr},
      {"MASTER_PORT", port},
      {"WORLD_SIZE", std::to_string(s.workers * s.processes_per_worker)},
      {"RANK", std::to_string(p.worker_rank * s.processes_per_worker)},
      {"PET_NNODES", workers},
      {"PET_NODE_RANK", rank},
      {"PET_NPROC_PER_NODE", ppw},
      {"PET_MASTER_ADDR", addr},
      {"PET_MASTER_PORT", port},
  };
}

}  // namespace ringleader::api
