#include "ringleader/runtime/launcher.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace ringleader::runtime {

EnvOverrides LocalProcessEnv(int worker_rank, int procs_per_worker, int local_rank,
                             const std::optional<std::string>& parent_cuda_visible_devices,
                             bool inherit_cuda_visible_devices) {
  const std::string l = std::to_string(local_rank);
  const std::string rank = std::to_string(worker_rank * procs_per_worker + local_rank);
  EnvOverrides env = {{"LOCAL_RANK", l},
                      {"RINGLEADER_LOCAL_RANK", l},
                      {"RINGLEADER_RANK", rank},
                      {"RANK", rank},
                      {"LOCAL_WORLD_SIZE", std::to_string(procs_per_worker)}};
  if (inherit_cuda_visible_devices) return env;
  if (!parent_cuda_visible_devices.has_value()) {
    env.emplace_back("CUDA_VISIBLE_DEVICES", l);
    return env;
  }
  const std::string& parent = *parent_cuda_visible_devices;
  if (parent.empty() || parent == "-1" || parent == "none" || parent == "void") return env;
  std::vector<std::string> devices;
  std::stringstream in(parent);
  std::string device;
  while (std::getline(in, device, ',')) {
    if (!device.empty()) devices.push_back(device);
  }
  if (!devices.empty()) env.emplace_back("CUDA_VISIBLE_DEVICES", devices[local_rank % devices.size()]);
  return env;
}

namespace {

// Signal handlers only touch these async-signal-safe globals. Local rank i leads process group
// g_groups[i] (its pid). A group stays listed after its leader was reaped so that leftover
// members (the rank's own children) are still signalled; kill() of an empty group fails
// harmlessly with ESRCH, and Linux does not reuse the number while any member is alive.
constexpr int kMaxChildren = 1024;
volatile sig_atomic_t g_num_groups = 0;
pid_t g_groups[kMaxChildren];

void SignalGroups(int sig) {
  for (int i = 0; i < g_num_groups; ++i) {
    if (g_groups[i] > 0) kill(-g_groups[i], sig);
  }
}

void KillAll(int) { SignalGroups(SIGKILL); }

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// SIGALRM (-> KillAll) after `delay`; 0 disarms.
void ArmKillTimer(std::chrono::milliseconds delay) {
  itimerval timer{};
  timer.it_value.tv_sec = static_cast<time_t>(delay.count() / 1000);
  timer.it_value.tv_usec = static_cast<suseconds_t>((delay.count() % 1000) * 1000);
  setitimer(ITIMER_REAL, &timer, nullptr);
}

// Stops the surviving ranks after a failure: SIGTERM, then SIGKILL once the grace period
// passed; a zero grace period kills at once.
void StopAll(std::chrono::milliseconds grace) {
  if (grace.count() <= 0) {
    SignalGroups(SIGKILL);
    return;
  }
  SignalGroups(SIGTERM);
  ArmKillTimer(grace);
}

}  // namespace

int RunLaunch(const LaunchOptions& options) {
  if (options.command.empty() || options.procs_per_worker < 1 ||
      options.procs_per_worker > kMaxChildren) {
    std::fprintf(stderr, "ringleader-worker launch: need a command and 1..%d processes\n", kMaxChildren);
    return 2;
  }
  const char* parent_cvd = std::getenv("CUDA_VISIBLE_DEVICES");
  const char* policy = std::getenv("RINGLEADER_CUDA_VISIBLE_DEVICES_POLICY");
  const bool inherit = policy != nullptr && std::string(policy) == "inherit";

  struct sigaction forward {};
  forward.sa_handler = SignalGroups;
  sigemptyset(&forward.sa_mask);
  for (int sig : kForwardedSignals) sigaction(sig, &forward, nullptr);
  struct sigaction kill_all {};
  kill_all.sa_handler = KillAll;
  sigemptyset(&kill_all.sa_mask);
  sigaction(SIGALRM, &kill_all, nullptr);

  std::vector<char*> argv;
  for (const auto& arg : options.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int started = 0;
  for (int l = 0; l < options.procs_per_worker; ++l) {
    EnvOverrides env = LocalProcessEnv(options.worker_rank, options.procs_per_worker, l,
                                       parent_cvd ? std::optional<std::string>(parent_cvd) : std::nullopt,
                                       inherit);
    // Signals stay blocked across fork: a signal that arrives meanwhile is forwarded once the
    // new group is listed, and our handlers never run in the child before it resets them.
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);  // its own group, so a forwarded signal reaches its children too
      for (int sig : kForwardedSignals) signal(sig, SIG_DFL);
      signal(SIGALRM, SIG_DFL);
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "ringleader-worker launch: cannot run %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    if (pid > 0) {
      setpgid(pid, pid);  // also here: whichever of parent and child runs first wins the race
      g_groups[l] = pid;
      g_num_groups = l + 1;
      ++started;
    }
    const int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
      std::fprintf(stderr, "ringleader-worker launch: fork failed: %s\n",
                   std::strerror(fork_errno));
      SignalGroups(SIGKILL);
      for (int i = 0; i < started; ++i) {
        while (waitpid(g_groups[i], nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      return 1;
    }
  }

  int first_failure = 0;
  int running = options.procs_per_worker;
  std::vector<bool> reaped(options.procs_per_worker, false);
  while (running > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // Not a rank: an orphan reparented to us (we may be the container's PID 1).
    int local_rank = -1;
    for (int i = 0; i < g_num_groups; ++i) {
      if (g_groups[i] == pid && !reaped[i]) local_rank = i;
    }
    if (local_rank < 0) continue;
    reaped[local_rank] = true;
    --running;
    const int code = ExitCodeOf(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      std::fprintf(stderr, "ringleader-worker launch: local rank %d (rank %d) exited with %d; stopping the others\n",
                   local_rank, options.worker_rank * options.procs_per_worker + local_rank, code);
      StopAll(options.grace);
    }
  }
  ArmKillTimer(std::chrono::milliseconds(0));
  // Nothing a rank started outlives the launcher.
  SignalGroups(SIGKILL);
  return first_failure;
}

}  // namespace ringleader::runtime
