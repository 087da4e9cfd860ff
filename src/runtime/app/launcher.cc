#include "ringleader/runtime/app/launcher.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>
#include <algorithm>
#include <memory>
#include <string_view>

#include "ringleader/common/subprocess.h"
#include "ringleader/common/worker_contract.h"
#include "ringleader/runtime/app/exit_codes.h"
#include "ringleader/runtime/app/launch_coordinator.h"

namespace ringleader::runtime {

EnvOverrides LocalProcessEnv(int worker_rank, int procs_per_worker, int local_rank,
                             const std::optional<std::string>& parent_cuda_visible_devices,
                             bool inherit_cuda_visible_devices) {
  const std::string l = std::to_string(local_rank);
  const std::string rank = std::to_string(worker_rank * procs_per_worker + local_rank);
  using namespace contract;
  EnvOverrides env = {{kEnvTorchLocalRank, l},
                      {kEnvLocalRank, l},
                      {kEnvRank, rank},
                      {kEnvTorchRank, rank},
                      {kEnvTorchLocalWorldSize, std::to_string(procs_per_worker)}};
  if (inherit_cuda_visible_devices) return env;
  if (!parent_cuda_visible_devices.has_value()) {
    env.emplace_back(contract::kEnvCudaVisibleDevices, l);
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
  if (!devices.empty()) env.emplace_back(contract::kEnvCudaVisibleDevices, devices[local_rank % devices.size()]);
  return env;
}

bool MayRestartInPlace(const std::string& restart_policy, int exit_code, int restarts, int max_restarts) {
  if (restarts >= max_restarts || exit_code == 0) return false;
  if (restart_policy == "Never") return false;
  if (restart_policy == "ExitCode") return exit_code >= 128 && exit_code <= 255;
  return true;  // OnFailure
}

namespace {

// Signal handlers only touch these async-signal-safe globals. Local rank i leads process group
// g_groups[i] (its pid). A group stays listed after its leader was reaped so that leftover
// members (the rank's own children) are still signalled; kill() of an empty group fails
// harmlessly with ESRCH, and Linux does not reuse the number while any member is alive.
constexpr int kMaxChildren = 1024;
volatile sig_atomic_t g_num_groups = 0;
pid_t g_groups[kMaxChildren];
volatile sig_atomic_t g_terminating = 0;  // the launcher itself got SIGTERM/SIGINT/SIGHUP

void SignalGroups(int sig) {
  for (int i = 0; i < g_num_groups; ++i) {
    if (g_groups[i] > 0) kill(-g_groups[i], sig);
  }
}

void Forward(int sig) {
  if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) g_terminating = 1;
  SignalGroups(sig);
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

// Stops the surviving ranks: SIGTERM, then SIGKILL once the grace period passed; a zero grace
// period kills at once.
void StopAll(std::chrono::milliseconds grace) {
  if (grace.count() <= 0) {
    SignalGroups(SIGKILL);
    return;
  }
  SignalGroups(SIGTERM);
  ArmKillTimer(grace);
}

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int output_fd = -1;
  std::string partial;
  bool reaped = false;
};

// Why a generation ended.
struct GenerationEnd {
  int first_failure = 0;     // exit code of the first failed process (0: none)
  bool peer_restart = false;  // another launcher announced the restart
  bool stalled = false;       // no progress line for progress_timeout
  std::string reason;
};

class Launcher {
 public:
  explicit Launcher(const LaunchOptions& options) : options_(options) {}

  int Run() {
    const int code = RunGenerations();
    if (code != kExitSuccess && coordinator_ && !coordinator_->store_lost()) coordinator_->Leave();
    return code;
  }

 private:
  int RunGenerations() {
    if (options_.num_workers > 0 && options_.master_port > 0) {
      CoordinatorOptions c;
      c.worker_rank = options_.worker_rank;
      c.num_workers = options_.num_workers;
      c.attempt = options_.attempt;
      c.master_addr = options_.master_addr;
      c.port = options_.launcher_port > 0 ? options_.launcher_port : LauncherStorePort(options_.master_port);
      c.listen_fd = options_.worker_rank == 0 ? options_.store_listen_fd : -1;
      c.barrier_timeout = options_.barrier_timeout;
      auto coordinator = LaunchCoordinator::Start(c);
      if (!coordinator.ok()) {
        Log("cannot reach the launchers' store on port " + std::to_string(c.port) + ": " +
            coordinator.status().message());
        return kExitRendezvousTimeout;
      }
      coordinator_ = std::move(*coordinator);
    }
    for (int generation = 0;; ++generation) {
      if (coordinator_) coordinator_->Watch(generation);
      if (!Start(generation)) return 1;
      GenerationEnd end = Wait();
      if (end.first_failure == 0 && !end.peer_restart && !end.stalled) {
        if (coordinator_) coordinator_->Done(std::chrono::seconds(30));
        return kExitSuccess;
      }
      const int code = end.first_failure != 0 ? end.first_failure : kExitPeerFailed;
      if (g_terminating) return code;  // stopped from outside: never restarted here
      const bool local_failure = !end.peer_restart;
      const bool may_restart =
          end.stalled || end.peer_restart
              ? generation < options_.max_restarts
              : MayRestartInPlace(options_.restart_policy, end.first_failure, generation, options_.max_restarts);
      bool permanent = !may_restart;
      std::string reason = end.reason;
      if (coordinator_ && !coordinator_->store_lost()) {
        if (local_failure) (void)coordinator_->Announce(generation, reason, permanent);
        if (Status barrier = coordinator_->StoppedAndWait(generation); !barrier.ok()) {
          Log("not restarting in place: " + barrier.message());
          return code;
        }
        auto failed = coordinator_->Failed(generation);
        permanent = permanent || !failed.ok() || *failed;
        if (end.peer_restart) reason = coordinator_->Reason(generation);
      } else if (coordinator_) {
        permanent = true;  // without the store the other Pods cannot follow
        reason += " (launchers' store lost)";
      }
      if (permanent) {
        Log("not restarting in place (" + std::to_string(generation) + " of " +
            std::to_string(options_.max_restarts) + " in-place restarts used, restartPolicy " +
            options_.restart_policy + "): " + reason + "; exiting with " + std::to_string(code));
        return code;
      }
      Log("restarting the processes in place (restart " + std::to_string(generation + 1) + " of " +
          std::to_string(options_.max_restarts) + "): " + reason);
    }
  }

  void Log(const std::string& line) {
    std::fprintf(stderr, "ringleader-worker launch: worker %d: %s\n", options_.worker_rank, line.c_str());
    std::fflush(stderr);
  }

  int Rank(int local_rank) const { return options_.worker_rank * options_.procs_per_worker + local_rank; }

  bool Start(int generation) {
    const char* parent_cvd = std::getenv(contract::kEnvCudaVisibleDevices);
    const char* policy = std::getenv(contract::kEnvCudaVisibleDevicesPolicy);
    const bool inherit = policy != nullptr && std::string(policy) == "inherit";
    children_.assign(options_.procs_per_worker, Child{});
    g_num_groups = 0;
    for (int l = 0; l < options_.procs_per_worker; ++l) {
      EnvOverrides env = LocalProcessEnv(options_.worker_rank, options_.procs_per_worker, l,
                                         parent_cvd ? std::optional<std::string>(parent_cvd) : std::nullopt,
                                         inherit);
      env.emplace_back(contract::kEnvInPlaceRestarts, std::to_string(generation));
      if (options_.num_workers > 0) {
        env.emplace_back(contract::kEnvProcsPerWorker, std::to_string(options_.procs_per_worker));
      }
      if (coordinator_) {
        env.emplace_back(contract::kEnvStoreHostedByLauncher, "1");
        env.emplace_back(contract::kEnvMasterPort, std::to_string(coordinator_->store_port()));
      }
      // Signals stay blocked across the spawn: a signal that arrives meanwhile is forwarded once
      // the new group is listed. The child starts with our old mask and default handlers.
      sigset_t all, previous;
      sigfillset(&all);
      sigprocmask(SIG_BLOCK, &all, &previous);
      subprocess::SpawnOptions spawn;
      spawn.argv = options_.command;
      spawn.env = std::move(env);
      spawn.stdout_to = subprocess::Redirect::Pipe();
      spawn.stderr_to = subprocess::Redirect::ToStdout();
      spawn.new_process_group = true;  // so a forwarded signal reaches its children too
      spawn.signal_mask = previous;
      spawn.default_signals.assign(std::begin(kForwardedSignals), std::end(kForwardedSignals));
      spawn.default_signals.push_back(SIGALRM);
      auto child = subprocess::Spawn(spawn);
      if (child.ok()) {
        g_groups[l] = child->pid;
        g_num_groups = l + 1;
        children_[l].pid = child->pid;
        children_[l].output_fd = child->stdout_fd;
        ::fcntl(child->stdout_fd, F_SETFL, O_NONBLOCK);
      }
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      if (!child.ok()) {
        Log(child.status().message());
        KillAndReap();
        return false;
      }
    }
    last_progress_ = Clock::now();
    saw_progress_ = false;
    return true;
  }

  // Passes complete lines through to our stdout; a progress line (the trainer's `step=`, see
  // progress_sink.h) counts as progress.
  void Drain(Child& child) {
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
      if (n > 0) {
        child.partial.append(buffer, static_cast<size_t>(n));
        size_t start = 0;
        for (size_t nl; (nl = child.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
          const std::string_view line(child.partial.data() + start, nl - start);
          if (line.rfind("step=", 0) == 0) {
            last_progress_ = Clock::now();
            saw_progress_ = true;
          }
          std::fwrite(child.partial.data() + start, 1, nl - start + 1, stdout);
        }
        child.partial.erase(0, start);
        std::fflush(stdout);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {  // EOF: the process (and whatever it started) closed its output
        if (!child.partial.empty()) {
          child.partial += '\n';
          std::fwrite(child.partial.data(), 1, child.partial.size(), stdout);
          std::fflush(stdout);
          child.partial.clear();
        }
        ::close(child.output_fd);
        child.output_fd = -1;
      }
      return;
    }
  }

  GenerationEnd Wait() {
    GenerationEnd end;
    bool stopping = false;
    auto stop = [&](const std::string& why) {
      if (stopping) return;
      stopping = true;
      end.reason = why;
      StopAll(options_.grace);
    };
    int running = options_.procs_per_worker;
    while (running > 0 || std::any_of(children_.begin(), children_.end(),
                                       [](const Child& c) { return c.output_fd >= 0; })) {
      std::vector<pollfd> fds;
      for (const Child& c : children_) {
        if (c.output_fd >= 0) fds.push_back({c.output_fd, POLLIN, 0});
      }
      if (coordinator_) fds.push_back({coordinator_->wake_fd(), POLLIN, 0});
      ::poll(fds.data(), fds.size(), 100);
      for (Child& c : children_) {
        if (c.output_fd >= 0) Drain(c);
      }
      for (int status = 0;;) {
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        // Not a rank: an orphan reparented to us (we may be the container's PID 1).
        auto it = std::find_if(children_.begin(), children_.end(),
                               [&](const Child& c) { return c.pid == pid && !c.reaped; });
        if (it == children_.end()) continue;
        it->reaped = true;
        --running;
        const int code = ExitCodeOf(status);
        const int local_rank = static_cast<int>(it - children_.begin());
        if (code != 0 && !stopping && end.first_failure == 0) {
          end.first_failure = code;
          stop("worker " + std::to_string(options_.worker_rank) + " local rank " + std::to_string(local_rank) +
               " (rank " + std::to_string(Rank(local_rank)) + ") exited with " + std::to_string(code));
          Log(end.reason + "; stopping the others");
        }
      }
      if (running == 0) {
        // Whatever a rank started and left behind (holding the output pipe) goes with it.
        SignalGroups(SIGKILL);
      }
      if (coordinator_ && coordinator_->restart_announced() && !stopping) {
        end.peer_restart = true;
        stop("a peer's launcher announced a restart");
      }
      if (options_.progress_timeout.count() > 0 && saw_progress_ && !stopping &&
          Clock::now() - last_progress_ > options_.progress_timeout) {
        end.stalled = true;
        stop("no progress line for " + std::to_string(options_.progress_timeout.count() / 1000) + "s");
        Log(end.reason + "; stopping the processes");
      }
    }
    ArmKillTimer(std::chrono::milliseconds(0));
    // Nothing a rank started outlives its generation.
    SignalGroups(SIGKILL);
    return end;
  }

  void KillAndReap() {
    SignalGroups(SIGKILL);
    for (Child& c : children_) {
      if (c.pid > 0 && !c.reaped) {
        while (waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
      if (c.output_fd >= 0) ::close(c.output_fd);
    }
  }

  const LaunchOptions& options_;
  std::unique_ptr<LaunchCoordinator> coordinator_;
  std::vector<Child> children_;
  Clock::time_point last_progress_{};
  bool saw_progress_ = false;
};

}  // namespace

int RunLaunch(const LaunchOptions& options) {
  if (options.command.empty() || options.procs_per_worker < 1 ||
      options.procs_per_worker > kMaxChildren) {
    std::fprintf(stderr, "ringleader-worker launch: need a command and 1..%d processes\n", kMaxChildren);
    return kExitUsageError;
  }
  struct sigaction forward {};
  forward.sa_handler = Forward;
  sigemptyset(&forward.sa_mask);
  for (int sig : kForwardedSignals) sigaction(sig, &forward, nullptr);
  struct sigaction kill_all {};
  kill_all.sa_handler = KillAll;
  sigemptyset(&kill_all.sa_mask);
  sigaction(SIGALRM, &kill_all, nullptr);
  // A pipe whose reader went away must not kill the launcher; the write just fails.
  signal(SIGPIPE, SIG_IGN);
  Launcher launcher(options);
  return launcher.Run();
}

}  // namespace ringleader::runtime
