#pragma once
// Turns a validated TrainingJob into the processes local mode starts: the first container's
// command + args resolved to an executable on this machine, and for every attempt the same
// injected environment the operator gives pods (api::BuildWorkerEnv) with
// MASTER_ADDR=127.0.0.1 and a local port. Pure functions of their inputs (the environment and
// filesystem lookups are passed in), so the env contract is unit-tested here.
//
// Process layout: local mode starts workers x processesPerWorker processes directly (it does
// not go through `ringleader-worker launch`, and unwraps a command that is one), setting the per-process variables the launcher
// sets (LOCAL_RANK, RINGLEADER_LOCAL_RANK, RINGLEADER_RANK, RANK, LOCAL_WORLD_SIZE). When the
// parent's CUDA_VISIBLE_DEVICES lists several devices, process r gets device r mod k.

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
  // One line each: the ignored image, skipped valueFrom entries, ignored cluster-only fields.
  std::vector<std::string> notes;
  int64_t total_processes() const { return job.spec.workers * job.spec.processes_per_worker; }
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

// A pod's `ringleader-worker launch [flags] -- CMD...` starts processesPerWorker local ranks of
// CMD. Local mode starts every rank itself, so running the launcher as well would start
// processesPerWorker² processes with clashing ranks: when argv is such a launch, it is replaced
// by CMD... and a note says so. Returns whether it was.
bool UnwrapLauncher(const api::TrainingJob& job, std::vector<std::string>* argv,
                    std::vector<std::string>* notes);

// Builds the plan for an already validated job. Fails (kInvalidArgument, naming the field)
// when the first container has no command or the command is not found on `path_list`.
StatusOr<LocalPlan> BuildLocalPlan(const api::TrainingJob& job, const std::string& path_list,
                                   const IsExecutableFn& is_executable = IsExecutableFile);

// What one process of one attempt runs.
struct ProcessSpec {
  int rank = 0;
  int worker_rank = 0;
  int local_rank = 0;
  std::string executable;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // complete environment, "NAME=value"
};

// The processes of attempt `attempt`, rank 0 listening on 127.0.0.1:`master_port`. The
// environment is `parent_env` (NAME=value entries) overlaid, in order, with PATH, the
// container's env values, the injected variables and the per-process variables; later
// entries win, so a user cannot override the injected contract (validation forbids it too).
std::vector<ProcessSpec> BuildAttemptProcesses(const LocalPlan& plan, int64_t attempt,
                                               int master_port,
                                               const std::vector<std::string>& parent_env);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
StatusOr<int> PickFreePort();

}  // namespace ringleader::local
