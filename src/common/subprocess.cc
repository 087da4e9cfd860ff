#include "ringleader/common/subprocess.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace ringleader::subprocess {

namespace {

// Descriptors the parent opened for the child; closed when Spawn returns.
class ParentFds {
 public:
  ParentFds() = default;
  ParentFds(const ParentFds&) = delete;
  ParentFds& operator=(const ParentFds&) = delete;
  ~ParentFds() {
    for (int fd : fds_) ::close(fd);
  }
  // Keeps `fd` above 0-2 so a dup2 onto a standard stream always clears its close-on-exec.
  int Own(int fd) {
    if (fd >= 0 && fd <= STDERR_FILENO) {
      const int raised = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      ::close(fd);
      fd = raised;
    }
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

// What the child installs on 0, 1 and 2 (-1: leave as inherited), and the parent's pipe ends.
struct Streams {
  int child[3] = {-1, -1, -1};
  int stdout_read = -1;
  int stderr_read = -1;
};

Status Failure(const SpawnOptions& options, const std::string& what, int error) {
  const std::string& program = options.program.empty() ? options.argv[0] : options.program;
  return UnavailableError("cannot execute " + program + ": " + what + std::strerror(error));
}

void ClosePipes(const Streams& s) {
  if (s.stdout_read >= 0) ::close(s.stdout_read);
  if (s.stderr_read >= 0) ::close(s.stderr_read);
}

// Opens the descriptor for one stream (target 0, 1 or 2); sets *pipe_read for a pipe.
Status OpenStream(const SpawnOptions& options, const Redirect& r, int target, ParentFds& fds, Streams& s,
                  int* pipe_read) {
  int fd = -1;
  switch (r.kind) {
    case Redirect::Kind::kInherit:
      return Status::Ok();
    case Redirect::Kind::kToStdout:
      s.child[target] = STDOUT_FILENO;  // installed after stdout, so it follows stdout's redirect
      return Status::Ok();
    case Redirect::Kind::kDevNull:
      fd = ::open("/dev/null", (target == STDIN_FILENO ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) return Failure(options, "cannot open /dev/null: ", errno);
      break;
    case Redirect::Kind::kFile:
      fd = ::open(r.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (r.append ? O_APPEND : O_TRUNC), 0644);
      if (fd < 0) return Failure(options, "cannot open " + r.path + ": ", errno);
      break;
    case Redirect::Kind::kPipe: {
      int ends[2];
      if (::pipe2(ends, O_CLOEXEC) != 0) return Failure(options, "pipe: ", errno);
      *pipe_read = ends[0];
      fd = ends[1];
      break;
    }
  }
  s.child[target] = fds.Own(fd);
  return Status::Ok();
}

StatusOr<Streams> OpenStreams(const SpawnOptions& options, ParentFds& fds) {
  Streams s;
  int unused = -1;
  Status status = OpenStream(options, options.stdin_from, STDIN_FILENO, fds, s, &unused);
  if (status.ok()) status = OpenStream(options, options.stdout_to, STDOUT_FILENO, fds, s, &s.stdout_read);
  if (status.ok()) status = OpenStream(options, options.stderr_to, STDERR_FILENO, fds, s, &s.stderr_read);
  if (!status.ok()) {
    ClosePipes(s);
    return status;
  }
  return s;
}

// "NAME=value" strings: the parent's environment with options.env on top, or options.env alone.
std::vector<std::string> Environment(const SpawnOptions& options) {
  std::vector<std::string> out;
  if (!options.replace_env) {
    for (char** var = environ; var != nullptr && *var != nullptr; ++var) {
      const std::string_view entry(*var);
      const std::string_view name = entry.substr(0, entry.find('='));
      bool overridden = false;
      for (const auto& [key, value] : options.env) overridden = overridden || key == name;
      if (!overridden) out.emplace_back(entry);
    }
  }
  for (const auto& [key, value] : options.env) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Everything the child needs, built before fork or posix_spawn: no allocation after them.
struct Plan {
  const char* program;
  std::vector<char*> argv;
  std::vector<char*> envp;
  sigset_t mask;
  sigset_t defaults;  // signals to reset to SIG_DFL in the child
  Streams streams;
};

void FillDefaults(const SpawnOptions& options, sigset_t* defaults) {
  sigemptyset(defaults);
  for (int sig : options.default_signals) sigaddset(defaults, sig);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action {};
    if (::sigaction(sig, nullptr, &action) != 0) continue;
    if (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN) sigaddset(defaults, sig);
  }
}

StatusOr<pid_t> PosixSpawn(const SpawnOptions& options, const Plan& plan) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  for (int target = 0; target < 3; ++target) {
    if (plan.streams.child[target] >= 0) posix_spawn_file_actions_adddup2(&actions, plan.streams.child[target], target);
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  if (options.new_process_group && !options.new_session) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setsigmask(&attr, &plan.mask);
  posix_spawnattr_setsigdefault(&attr, &plan.defaults);
  pid_t pid = -1;
  // glibc's posix_spawn reports a failed exec here (the child shares our memory until exec).
  const int error = options.search_path
                        ? ::posix_spawnp(&pid, plan.program, &actions, &attr, plan.argv.data(), plan.envp.data())
                        : ::posix_spawn(&pid, plan.program, &actions, &attr, plan.argv.data(), plan.envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return Failure(options, "", error);
  return pid;
}

// What a child reports through the error pipe when it cannot get to exec.
struct ChildError {
  int step = 0;  // 0: exec, 1: chdir, 2: parent died before prctl
  int error = 0;
};

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void RunChild(const SpawnOptions& options, const Plan& plan, pid_t parent, int error_fd) {
  auto fail = [error_fd](int step, int error) {
    const ChildError report{step, error};
    (void)!::write(error_fd, &report, sizeof report);
    ::_exit(127);
  };
  if (options.new_session) {
    ::setsid();
  } else if (options.new_process_group) {
    ::setpgid(0, 0);
  }
  if (options.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
    if (::getppid() != parent) fail(2, ESRCH);
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&plan.defaults, sig) == 1) ::signal(sig, SIG_DFL);
  }
  for (int target = 0; target < 3; ++target) {
    if (plan.streams.child[target] >= 0) ::dup2(plan.streams.child[target], target);
  }
  for (int fd : options.keep_fds) ::fcntl(fd, F_SETFD, 0);
  if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) fail(1, errno);
  ::sigprocmask(SIG_SETMASK, &plan.mask, nullptr);
  if (options.search_path) {
    ::execvpe(plan.program, plan.argv.data(), plan.envp.data());
  } else {
    ::execve(plan.program, plan.argv.data(), plan.envp.data());
  }
  fail(0, errno);
  ::_exit(127);  // not reached: fail exits
}

StatusOr<pid_t> ForkExec(const SpawnOptions& options, const Plan& plan) {
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) return Failure(options, "pipe: ", errno);
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);  // no handler of ours may run in the child
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) RunChild(options, plan, parent, error_pipe[1]);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ::close(error_pipe[1]);
  if (pid < 0) {
    ::close(error_pipe[0]);
    return Failure(options, "fork: ", fork_errno);
  }
  // Also here: a kill(-pid) right after Spawn must not miss a child that has not run setpgid.
  if (options.new_process_group && !options.new_session) ::setpgid(pid, pid);
  ChildError report;
  ssize_t n;
  do {
    n = ::read(error_pipe[0], &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n != static_cast<ssize_t>(sizeof report)) return pid;  // the pipe closed on exec
  ::waitpid(pid, nullptr, 0);
  static constexpr const char* kSteps[] = {"", "cannot enter working directory ", "parent exited: "};
  std::string what = kSteps[report.step];
  if (report.step == 1) what += options.working_dir + ": ";
  return Failure(options, what, report.error);
}

}  // namespace

StatusOr<SpawnedProcess> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return InvalidArgumentError("Spawn: empty argv");
  ParentFds fds;
  auto streams = OpenStreams(options, fds);
  if (!streams.ok()) return streams.status();
  const std::vector<std::string> env = Environment(options);
  Plan plan{options.program.empty() ? options.argv[0].c_str() : options.program.c_str(), Pointers(options.argv),
            Pointers(env), {}, {}, *streams};
  if (options.signal_mask.has_value()) {
    plan.mask = *options.signal_mask;
  } else {
    ::pthread_sigmask(SIG_SETMASK, nullptr, &plan.mask);
  }
  FillDefaults(options, &plan.defaults);
  // posix_spawn has no parent-death signal, and no portable way (before glibc 2.29's _np calls)
  // to change directory or keep a descriptor that is close-on-exec: those take fork+exec.
  const bool needs_fork = options.parent_death_signal != 0 || !options.keep_fds.empty() ||
                          !options.working_dir.empty();
  auto pid = needs_fork ? ForkExec(options, plan) : PosixSpawn(options, plan);
  if (!pid.ok()) {
    ClosePipes(plan.streams);
    return pid.status();
  }
  return SpawnedProcess{*pid, plan.streams.stdout_read, plan.streams.stderr_read};
}

int ExitCodeOf(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

std::optional<int> WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  if (pid <= 0) return std::nullopt;  // waitpid would wait for any child
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCodeOf(status);
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void KillAndReap(pid_t pid, bool group) {
  if (pid <= 0) return;
  ::kill(group ? -pid : pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace ringleader::subprocess
