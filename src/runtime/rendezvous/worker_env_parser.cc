#include "ringleader/runtime/rendezvous/worker_env_parser.h"

#include <charconv>
#include <cstdlib>

#include "ringleader/common/worker_contract.h"

namespace ringleader::runtime {

using namespace contract;

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

namespace {

// Reads an integer variable in [min_value, max_value]; nullopt when unset.
StatusOr<std::optional<int>> ReadInt(const EnvLookup& env, const std::string& name,
                                     int min_value, int max_value) {
  std::optional<std::string> raw = env(name);
  if (!raw.has_value()) return std::optional<int>();
  int value = 0;
  const char* begin = raw->data();
  const char* end = begin + raw->size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (raw->empty() || ec != std::errc() || ptr != end) {
    return InvalidArgumentError(name + "='" + *raw + "' is not an integer");
  }
  if (value < min_value || value > max_value) {
    return InvalidArgumentError(name + "=" + *raw + " is out of range [" +
                                std::to_string(min_value) + ", " + std::to_string(max_value) +
                                "]");
  }
  return std::optional<int>(value);
}

}  // namespace

StatusOr<WorkerEnv> ParseWorkerEnv(const EnvLookup& env) {
  constexpr int kMaxRanks = 1 << 20;
  WorkerEnv out;
  out.job_name = env(kEnvJobName).value_or("");
  out.job_namespace = env(kEnvNamespace).value_or("");
  ASSIGN_OR_RETURN(auto workers, ReadInt(env, kEnvNumWorkers, 1, kMaxRanks));
  ASSIGN_OR_RETURN(auto ppw, ReadInt(env, kEnvProcsPerWorker, 1, 1024));
  ASSIGN_OR_RETURN(auto worker_rank, ReadInt(env, kEnvWorkerRank, 0, kMaxRanks));
  ASSIGN_OR_RETURN(auto rank, ReadInt(env, kEnvRank, 0, kMaxRanks));
  ASSIGN_OR_RETURN(auto local_rank, ReadInt(env, kEnvLocalRank, 0, 1023));
  ASSIGN_OR_RETURN(auto port, ReadInt(env, kEnvMasterPort, 1, 65535));
  ASSIGN_OR_RETURN(auto attempt, ReadInt(env, kEnvAttempt, 0, 1 << 30));
  ASSIGN_OR_RETURN(auto pt_world, ReadInt(env, kEnvTorchWorldSize, 1, kMaxRanks));
  ASSIGN_OR_RETURN(auto pt_rank, ReadInt(env, kEnvTorchRank, 0, kMaxRanks));
  ASSIGN_OR_RETURN(auto pt_port, ReadInt(env, kEnvTorchMasterPort, 1, 65535));
  ASSIGN_OR_RETURN(auto in_place, ReadInt(env, kEnvInPlaceRestarts, 0, 1 << 30));
  out.attempt = attempt.value_or(0);
  out.in_place_restarts = in_place.value_or(0);
  out.checkpoint_dir = env(kEnvCheckpointDir).value_or("");

  if (workers.has_value()) {
    out.num_workers = *workers;
    out.procs_per_worker = ppw.value_or(1);
    out.world_size = out.num_workers * out.procs_per_worker;
    if (!worker_rank.has_value()) {
      return InvalidArgumentError(std::string(kEnvWorkerRank) + " is not set");
    }
    if (*worker_rank >= out.num_workers) {
      return InvalidArgumentError(std::string(kEnvWorkerRank) + "=" + std::to_string(*worker_rank) +
                                  " must be < " + kEnvNumWorkers + "=" +
                                  std::to_string(out.num_workers));
    }
    out.worker_rank = *worker_rank;
    if (rank.has_value()) {
      out.rank = *rank;
      out.local_rank = local_rank.value_or(*rank - out.worker_rank * out.procs_per_worker);
      if (out.rank != out.worker_rank * out.procs_per_worker + out.local_rank) {
        return InvalidArgumentError(
            std::string(kEnvRank) + "=" + std::to_string(out.rank) + " != " + kEnvWorkerRank +
            " x " + kEnvProcsPerWorker + " + " + kEnvLocalRank + " = " +
            std::to_string(out.worker_rank * out.procs_per_worker + out.local_rank));
      }
    } else if (out.procs_per_worker == 1) {
      out.rank = out.worker_rank;
      out.local_rank = 0;
    } else {
      return InvalidArgumentError(
          std::string(kEnvProcsPerWorker) + "=" + std::to_string(out.procs_per_worker) + " but " +
          kEnvRank + " is not set: start the processes with `ringleader-worker launch`");
    }
    if (out.local_rank >= out.procs_per_worker) {
      return InvalidArgumentError(std::string(kEnvLocalRank) + "=" + std::to_string(out.local_rank) +
                                  " must be < " + kEnvProcsPerWorker + "=" +
                                  std::to_string(out.procs_per_worker));
    }
    auto addr = env(kEnvMasterAddr);
    if (!addr.has_value() || addr->empty()) addr = env(kEnvTorchMasterAddr);
    if (!addr.has_value() || addr->empty()) {
      return InvalidArgumentError(std::string(kEnvMasterAddr) + " is not set");
    }
    out.master_addr = *addr;
    if (!port.has_value()) port = pt_port;
    if (!port.has_value()) return InvalidArgumentError(std::string(kEnvMasterPort) + " is not set");
    out.master_port = *port;
    return out;
  }

  // PyTorch-only environment (torchrun-style launchers).
  if (!pt_world.has_value() || !pt_rank.has_value()) {
    return InvalidArgumentError(
        std::string("neither ") + kEnvNumWorkers + " nor " + kEnvTorchWorldSize + "/" +
        kEnvTorchRank + " is set: not started by the Ringleader operator, `ringleader local` or "
        "a PyTorch launcher");
  }
  if (*pt_rank >= *pt_world) {
    return InvalidArgumentError(std::string(kEnvTorchRank) + "=" + std::to_string(*pt_rank) +
                                " must be < " + kEnvTorchWorldSize + "=" +
                                std::to_string(*pt_world));
  }
  auto addr = env(kEnvTorchMasterAddr);
  if (!addr.has_value() || addr->empty()) return InvalidArgumentError(std::string(kEnvTorchMasterAddr) + " is not set");
  if (!pt_port.has_value()) return InvalidArgumentError(std::string(kEnvTorchMasterPort) + " is not set");
  ASSIGN_OR_RETURN(auto pt_local, ReadInt(env, kEnvTorchLocalRank, 0, 1023));
  ASSIGN_OR_RETURN(auto pt_local_world, ReadInt(env, kEnvTorchLocalWorldSize, 1, 1024));
  out.world_size = *pt_world;
  out.rank = *pt_rank;
  out.local_rank = pt_local.value_or(0);
  out.procs_per_worker = pt_local_world.value_or(1);
  out.num_workers = out.world_size / out.procs_per_worker;
  out.worker_rank = out.rank / out.procs_per_worker;
  out.master_addr = *addr;
  out.master_port = *pt_port;
  return out;
}

}  // namespace ringleader::runtime
