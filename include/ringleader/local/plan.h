#pragma once
// Turns a validated TrainingJob into the processes local mode starts: the first container's
// command + args resolved to an executable on this machine, and for every attempt the same
// injected environment the operator gives pods (api::BuildWorkerEnv) with
// MASTER_ADDR=127.0.0.1 and a local port. Pure functions of their inputs (the environment and
// filesystem lookups are passed in), so the env contract is unit-tested here.
//
// Process layout: as in a Pod, the container command runs once per worker with exactly the
// worker's Pod environment (PET_*, MASTER_*, WORLD_SIZE, RANK as the Pod gets them). Whatever
// starts the processesPerWorker processes in a Pod (torchrun, `ringleader-worker launch`,
// mpirun) starts them locally too, so the same file means the same thing in both places. Two
// local additions: RINGLEADER_LAUNCHER_PORT (a free port for the launchers' store, since
// MASTER_PORT + 1 may be taken on a shared machine) and, when the parent's
// CUDA_VISIBLE_DEVICES lists several devices, each worker's share of them.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ringleader/api/trainingjob.h"
#include "ringleader/common/status.h"

namespace ringleader::local {

struct LocalPlan {
  api::TrainingJob job;
  std::string executable;         // absolute path the command resolved to
  std::vector<std::string> argv;  // command + args as written (argv[0] as in the YAML)
  // The container's plain `value` env entries, in order.
  std::vector<std::pair<std::string, std::string>> container_env;
  std::string path;  // PATH given to the processes (build-tree dirs first)
  // One line each: the ignored image, skipped valueFrom entries, ignored cluster-only fields,
  // where spec.checkpointDir lives on this machine.
  std::vector<std::string> notes;
  // spec.checkpointDir mapped into the run directory (MapCheckpointDir); unset when the job
  // has no checkpointDir.
  std::optional<std::string> checkpoint_dir;
  int64_t workers() const { return job.spec.workers; }
};

// Returns true when `path` names an executable regular file.
using IsExecutableFn = std::function<bool(const std::filesystem::path&)>;
bool IsExecutableFile(const std::filesystem::path& path);

// `name` if it contains a '/', else the first `dir/name` on the ':'-separated `path_list`
// that is executable; nullopt when none is.
std::optional<std::string> ResolveExecutable(const std::string& name, const std::string& path_list,
                                             const IsExecutableFn& is_executable = IsExecutableFile);

// Directories to put in front of PATH so that programs built next to `ringleader` are found:
// the directory of `self_exe`, and, when it sits in a build tree (<build>/src/cmd/<name>/),
// every sibling <build>/src/cmd/*/ directory (where ringleader-worker is built).
std::vector<std::string> ProgramSearchDirs(const std::filesystem::path& self_exe);

// `dirs` joined with ':' in front of `path_list` (dirs already on it are not repeated).
std::string PrependToPath(const std::vector<std::string>& dirs, const std::string& path_list);

// Whether `argv` (command + args) starts the per-worker processes itself: torchrun,
// `python -m torch.distributed.run|launch`, `ringleader-worker launch`, mpirun / mpiexec /
// srun / deepspeed / horovodrun / `accelerate launch`, also behind `env` or in a `sh -c` script.
bool IsProcessLauncher(const std::vector<std::string>& argv);

// The warning `ringleader validate` and `ringleader run` print when processesPerWorker > 1 but
// the first container's command is not a launcher, so in a Pod (and locally) one process per
// worker runs unless the program starts the others itself; nullopt when there is nothing to
// say (processesPerWorker 1, a launcher, a shell script, or no command). Pure.
std::optional<std::string> ProcessesPerWorkerWarning(const api::TrainingJob& job);

// Builds the plan for an already validated job. Fails (kInvalidArgument, naming the field)
// when the first container has no command or the command is not found on `path_list`.
StatusOr<LocalPlan> BuildLocalPlan(const api::TrainingJob& job, const std::string& path_list,
                                   const IsExecutableFn& is_executable = IsExecutableFile);

// spec.checkpointDir is a path inside the container; locally it becomes
// `<run_dir>/checkpoints` (absolute), given to the workers as RINGLEADER_CHECKPOINT_DIR, so a
// gang restart of the run resumes from its checkpoints. Adds a note saying so. No-op when the
// job has no checkpointDir. The supervisor creates the directory.
void MapCheckpointDir(const std::string& run_dir, LocalPlan* plan);

// What one worker ("Pod") of one attempt runs.
struct ProcessSpec {
  int worker_rank = 0;
  std::string executable;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // complete environment, "NAME=value"
};

// The ports of one local attempt: MASTER_PORT (left to the program's own rendezvous, as in a
// Pod) and the launchers' store port (RINGLEADER_LAUNCHER_PORT).
struct AttemptPorts {
  int master = 0;
  int launcher = 0;
};

// One process per worker for attempt `attempt`, worker 0 at 127.0.0.1:`ports.master`. The
// environment is `parent_env` (NAME=value entries) overlaid, in order, with PATH, the
// container's env values, the Pod's injected variables (api::BuildWorkerEnv, with the mapped
// checkpoint dir) and RINGLEADER_LAUNCHER_PORT; later entries win, so a user cannot override
// the injected contract (validation forbids it too).
std::vector<ProcessSpec> BuildAttemptProcesses(const LocalPlan& plan, int64_t attempt,
                                               const AttemptPorts& ports,
                                               const std::vector<std::string>& parent_env);

// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (all bound to port 0 at
// once, read, then closed, so they cannot collide with each other).
StatusOr<std::vector<int>> PickFreePorts(int count);

}  // namespace ringleader::local
