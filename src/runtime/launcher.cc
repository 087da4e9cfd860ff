#include "ringleader/runtime/launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

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

// Signal handlers only touch these async-signal-safe globals.
constexpr int kMaxChildren = 1024;
volatile sig_atomic_t g_num_children = 0;
pid_t g_children[kMaxChildren];

void ForwardSignal(int sig) {
  for (int i = 0; i < g_num_children; ++i) {
    if (g_children[i] > 0) kill(g_children[i], sig);
  }
}

void KillAll(int) { ForwardSignal(SIGKILL); }

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
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
  forward.sa_handler = ForwardSignal;
  sigemptyset(&forward.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(sig, &forward, nullptr);
  struct sigaction kill_all {};
  kill_all.sa_handler = KillAll;
  sigemptyset(&kill_all.sa_mask);
  sigaction(SIGALRM, &kill_all, nullptr);

  std::vector<char*> argv;
  for (const auto& arg : options.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (int l = 0; l < options.procs_per_worker; ++l) {
    EnvOverrides env = LocalProcessEnv(options.worker_rank, options.procs_per_worker, l,
                                       parent_cvd ? std::optional<std::string>(parent_cvd) : std::nullopt,
                                       inherit);
    pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "ringleader-worker launch: fork failed: %s\n", std::strerror(errno));
      ForwardSignal(SIGKILL);
      return 1;
    }
    if (pid == 0) {
      for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM}) signal(sig, SIG_DFL);
      for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "ringleader-worker launch: cannot run %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    g_children[l] = pid;
    g_num_children = l + 1;
  }

  int first_failure = 0;
  int running = options.procs_per_worker;
  while (running > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int local_rank = -1;
    for (int i = 0; i < g_num_children; ++i) {
      if (g_children[i] == pid) {
        local_rank = i;
        g_children[i] = 0;  // never signal a reaped pid
      }
    }
    if (local_rank < 0) continue;
    --running;
    const int code = ExitCodeOf(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      std::fprintf(stderr, "ringleader-worker launch: local rank %d (rank %d) exited with %d; stopping the others\n",
                   local_rank, options.worker_rank * options.procs_per_worker + local_rank, code);
      ForwardSignal(SIGTERM);
      alarm(static_cast<unsigned>(options.grace.count()));
    }
  }
  alarm(0);
  return first_failure;
}

}  // namespace ringleader::runtime
