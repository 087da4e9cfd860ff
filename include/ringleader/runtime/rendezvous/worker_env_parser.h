#pragma once
// The worker's view of the gang, parsed from the environment the operator injects (see
// docs/runtime.md, "Environment contract"). Pure: the environment is passed in as a lookup
// function, so tests need no setenv.
//
// Rank resolution, in order:
//   1. RINGLEADER_RANK (set per process by `ringleader-worker launch`), world size
//      RINGLEADER_NUM_WORKERS x RINGLEADER_PROCS_PER_WORKER;
//   2. RINGLEADER_WORKER_RANK when RINGLEADER_PROCS_PER_WORKER is 1 (or unset) and no launcher;
//   3. only the PyTorch variables: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK.

#include <functional>
#include <optional>
#include <string>

#include "ringleader/common/status.h"

namespace ringleader::runtime {

struct WorkerEnv {
  std::string job_name;       // "" when unknown (PyTorch-only env)
  std::string job_namespace;  // ""
  int num_workers = 1;        // pods
  int procs_per_worker = 1;
  int worker_rank = 0;        // pod index
  int local_rank = 0;
  int rank = 0;               // global rank = worker_rank * procs_per_worker + local_rank
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  int attempt = 0;
  // In-place restarts so far in this attempt (`ringleader-worker launch` counts them).
  int in_place_restarts = 0;
  std::string checkpoint_dir;  // "" = no checkpoints
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// Parses and validates the environment. Errors are kInvalidArgument and name the variable.
StatusOr<WorkerEnv> ParseWorkerEnv(const EnvLookup& env);

}  // namespace ringleader::runtime
