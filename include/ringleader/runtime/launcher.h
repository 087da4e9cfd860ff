#pragma once
// `ringleader-worker launch -- CMD...`: starts RINGLEADER_PROCS_PER_WORKER local ranks of CMD
// with per-process environment, each in its own process group, forwards
// SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2 to those groups (so processes a rank started get them
// too), and exits with the first failure's code (a child killed by signal S counts as 128+S).
// When one child fails the others get SIGTERM, then SIGKILL after the grace period (a zero
// grace period: SIGKILL at once), so a gang restart is never held up by a stuck sibling. When
// every rank has exited, whatever is left in their process groups is killed: nothing the
// launcher started outlives it. Ranks are not in the terminal's foreground group; the launcher
// forwards Ctrl-C (SIGINT) itself.
//
// Per-process environment for local rank l of pod r with ppw processes:
//   LOCAL_RANK = RINGLEADER_LOCAL_RANK = l, RINGLEADER_RANK = RANK = r*ppw + l,
//   LOCAL_WORLD_SIZE = ppw, and CUDA_VISIBLE_DEVICES by this policy:
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

struct LaunchOptions {
  int worker_rank = 0;
  int procs_per_worker = 1;
  std::vector<std::string> command;
  // Between SIGTERM and SIGKILL of the surviving ranks after a failure; 0 = SIGKILL at once.
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
};

// Runs the processes to completion and returns the exit code for the launcher.
int RunLaunch(const LaunchOptions& options);

}  // namespace ringleader::runtime
