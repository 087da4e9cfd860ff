#pragma once
// `ringleader-worker launch -- CMD...`: the per-Pod supervisor. It starts
// RINGLEADER_PROCS_PER_WORKER local ranks of CMD with per-process environment, each in its own
// process group, forwards SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2 to those groups (so processes a
// rank started get them too), and passes their output through line by line.
//
// In-place restarts: when a process fails (or makes no progress for --progress-timeout-seconds,
// or a peer Pod's launcher announces a restart through the launchers' store), every launcher of
// the gang stops its processes (SIGTERM, then SIGKILL after the grace period) and starts them
// again as the next generation (RINGLEADER_IN_PLACE_RESTARTS=g), without the Pod exiting: no
// rescheduling, no image pull, no container start. Programs built on the runtime resume from
// their checkpoints. After `max_restarts` in-place restarts, or for an exit code the restart
// policy calls permanent (ExitCode: 1-127; Never: any), the launcher exits with the failure's
// code (a child killed by signal S counts as 128+S) and the operator restarts the gang the
// Pod-level way. A SIGTERM to the launcher is never answered by a restart.
//
// Worker 0's launcher serves the rendezvous store on LauncherStorePort(master port) for the
// launchers and for the training processes it starts (RINGLEADER_STORE_HOSTED_BY_LAUNCHER,
// RINGLEADER_MASTER_PORT pointing at it), so the store outlives any training process. MASTER_PORT
// stays as the operator set it, for the program's own rendezvous (e.g. PyTorch's TCPStore).
// Without the operator's environment (RINGLEADER_NUM_WORKERS, RINGLEADER_MASTER_ADDR/PORT) the
// launcher restarts its own processes only and hosts no store.
//
// Per-process environment for local rank l of pod r with ppw processes:
//   LOCAL_RANK = RINGLEADER_LOCAL_RANK = l, RINGLEADER_RANK = RANK = r*ppw + l,
//   LOCAL_WORLD_SIZE = ppw, RINGLEADER_IN_PLACE_RESTARTS = g, and CUDA_VISIBLE_DEVICES by this
//   policy:
//   - parent's CUDA_VISIBLE_DEVICES is a list of k >= 1 devices: entry l % k
//     (one device per process when k >= ppw; processes share devices round-robin otherwise);
//   - unset: "l" (process l drives GPU l, the usual one-process-per-GPU layout);
//   - empty, "-1", "none" or "void", or RINGLEADER_CUDA_VISIBLE_DEVICES_POLICY=inherit:
//     left unchanged.
//
// Thread-safety: RunLaunch installs process-wide signal handlers; call once from main.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringleader::runtime {

using EnvOverrides = std::vector<std::pair<std::string, std::string>>;

// The environment variables set for local rank `local_rank` (pure; tested).
EnvOverrides LocalProcessEnv(int worker_rank, int procs_per_worker, int local_rank,
                             const std::optional<std::string>& parent_cuda_visible_devices,
                             bool inherit_cuda_visible_devices);

// Whether a failure with `exit_code` may be restarted in place under the job's restartPolicy
// (the operator's rules: OnFailure any non-zero code, ExitCode 128-255 only, Never none), with
// `restarts` done of `max_restarts` allowed. Pure.
bool MayRestartInPlace(const std::string& restart_policy, int exit_code, int restarts, int max_restarts);

struct LaunchOptions {
  int worker_rank = 0;
  int procs_per_worker = 1;
  std::vector<std::string> command;
  // Between SIGTERM and SIGKILL of the surviving ranks after a failure; 0 = SIGKILL at once.
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  int max_restarts = 0;                    // in-place restarts allowed in this attempt
  std::string restart_policy = "OnFailure";
  // Restart in place when no process printed a progress line (`step=...`) for this long after
  // the first one; 0 = off.
  std::chrono::milliseconds progress_timeout{0};
  // The gang, when started by the operator or local mode (num_workers == 0: standalone).
  int num_workers = 0;
  int attempt = 0;
  std::string master_addr;
  int master_port = 0;
  // Worker 0: a listening socket to serve the launchers' store on (RINGLEADER_STORE_FD, handed
  // down by a test or local mode), instead of binding LauncherStorePort(master_port).
  int store_listen_fd = -1;
  int launcher_port = 0;  // RINGLEADER_LAUNCHER_PORT; 0 = LauncherStorePort(master_port)
  std::chrono::milliseconds barrier_timeout{std::chrono::seconds(60)};
};

// Runs the processes to completion and returns the exit code for the launcher.
int RunLaunch(const LaunchOptions& options);

}  // namespace ringleader::runtime
