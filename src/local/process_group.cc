#include "ringleader/local/process_group.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringleader::local {

namespace {

// A runaway line (no newline for this long) is cut rather than buffered without bound.
constexpr size_t kMaxLineBytes = 64 * 1024;

ProcessExit DecodeWaitStatus(size_t index, int status) {
  ProcessExit exit;
  exit.index = index;
  if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
    exit.exit_code = 128 + exit.signal;
  } else {
    exit.exit_code = WEXITSTATUS(status);
  }
  return exit;
}

// Only async-signal-safe calls between fork and exec: the child reports a failed exec by
// writing errno to `error_fd` (close-on-exec, so a successful exec closes it silently).
[[noreturn]] void ExecChild(const char* executable, char* const argv[], char* const envp[], int output_fd,
                            int error_fd) {
  ::setpgid(0, 0);
  // Signals are blocked across fork (see Start): reset the parent's handlers first, then
  // unblock, so a SIGTERM sent right away kills the child instead of running the parent's
  // stop handler in it.
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  ::execve(executable, argv, envp);
  const int error = errno;
  (void)!::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

}  // namespace

ProcessGroup::~ProcessGroup() { KillAndReapAll(); }

Status ProcessGroup::Start(const std::vector<ProcessSpec>& specs) {
  KillAndReapAll();
  children_.clear();
  for (size_t i = 0; i < specs.size(); ++i) {
    const ProcessSpec& spec = specs[i];
    // Everything the child needs is built before fork: no allocation after it.
    std::vector<char*> argv;
    for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const std::string& var : spec.env) envp.push_back(const_cast<char*>(var.c_str()));
    envp.push_back(nullptr);

    int output[2];
    int error_pipe[2];
    if (::pipe2(output, O_CLOEXEC) != 0) {
      const std::string error = std::strerror(errno);
      KillAndReapAll();
      return UnavailableError("worker " + std::to_string(spec.worker_rank) + ": pipe: " + error);
    }
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
      const std::string error = std::strerror(errno);
      ::close(output[0]);
      ::close(output[1]);
      KillAndReapAll();
      return UnavailableError("worker " + std::to_string(spec.worker_rank) + ": pipe: " + error);
    }
    sigset_t all;
    sigset_t saved;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved);
    const pid_t pid = ::fork();
    if (pid == 0) ExecChild(spec.executable.c_str(), argv.data(), envp.data(), output[1], error_pipe[1]);
    ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    ::close(output[1]);
    ::close(error_pipe[1]);
    if (pid < 0) {
      const std::string error = std::strerror(errno);
      ::close(output[0]);
      ::close(error_pipe[0]);
      KillAndReapAll();
      return UnavailableError("worker " + std::to_string(spec.worker_rank) + ": fork: " + error);
    }
    // Also in the parent, so a kill(-pid) right after Start cannot miss a child that has not
    // run its own setpgid yet.
    ::setpgid(pid, pid);
    Child child;
    child.pid = pid;
    child.output_fd = output[0];
    ::fcntl(child.output_fd, F_SETFL, ::fcntl(child.output_fd, F_GETFL) | O_NONBLOCK);
    children_.push_back(std::move(child));

    int exec_errno = 0;
    ssize_t n;
    do {
      n = ::read(error_pipe[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    ::close(error_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof exec_errno)) {
      KillAndReapAll();
      return UnavailableError("worker " + std::to_string(spec.worker_rank) + ": cannot execute " + spec.executable +
                              ": " + std::strerror(exec_errno));
    }
  }
  return Status::Ok();
}

void ProcessGroup::Drain(size_t index, const LineHandler& on_line) {
  Child& child = children_[index];
  char buffer[16384];
  while (child.output_fd >= 0) {
    const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
    if (n > 0) {
      child.partial.append(buffer, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t newline; (newline = child.partial.find('\n', start)) != std::string::npos; start = newline + 1) {
        on_line(index, std::string_view(child.partial).substr(start, newline - start));
      }
      child.partial.erase(0, start);
      while (child.partial.size() >= kMaxLineBytes) {
        on_line(index, std::string_view(child.partial).substr(0, kMaxLineBytes));
        child.partial.erase(0, kMaxLineBytes);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // EOF (every writer, grandchildren included, closed the pipe) or an error.
    ::close(child.output_fd);
    child.output_fd = -1;
  }
  if (!child.partial.empty()) {
    on_line(index, child.partial);
    child.partial.clear();
  }
}

std::vector<ProcessExit> ProcessGroup::Reap() {
  std::vector<ProcessExit> exits;
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& child = children_[i];
    if (child.exited) continue;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(child.pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == child.pid) {
      child.exited = true;
      exits.push_back(DecodeWaitStatus(i, status));
    } else if (r < 0) {
      // ECHILD: someone else reaped it (should not happen); count it as gone.
      child.exited = true;
      exits.push_back({i, 128 + SIGKILL, SIGKILL});
    }
  }
  return exits;
}

std::vector<ProcessExit> ProcessGroup::Poll(std::chrono::milliseconds timeout, int wake_fd,
                                            const LineHandler& on_line) {
  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  for (size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].output_fd < 0) continue;
    fds.push_back({children_[i].output_fd, POLLIN, 0});
    owners.push_back(i);
  }
  if (wake_fd >= 0) fds.push_back({wake_fd, POLLIN, 0});
  // Exits are found by waitpid after each poll; a short cap bounds how late one is noticed
  // when a process exits without closing its output (a grandchild still holds the pipe).
  const int wait_ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 50));
  int ready;
  do {
    ready = ::poll(fds.data(), fds.size(), wait_ms);
  } while (ready < 0 && errno == EINTR);
  for (size_t k = 0; k < owners.size() && ready > 0; ++k) {
    if (fds[k].revents != 0) Drain(owners[k], on_line);
  }
  std::vector<ProcessExit> exits = Reap();
  // Output written just before exit is delivered before the exit is reported.
  for (const ProcessExit& exit : exits) Drain(exit.index, on_line);
  return exits;
}

void ProcessGroup::SignalAll(int signal) {
  for (const Child& child : children_) {
    if (child.pid > 0) ::kill(-child.pid, signal);
  }
}

size_t ProcessGroup::running() const {
  return static_cast<size_t>(std::count_if(children_.begin(), children_.end(),
                                           [](const Child& c) { return c.pid > 0 && !c.exited; }));
}

std::vector<ProcessExit> ProcessGroup::Terminate(std::chrono::milliseconds grace, const LineHandler& on_line) {
  std::vector<ProcessExit> exits = Reap();
  SignalAll(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running() > 0 && std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    for (const ProcessExit& exit : Poll(std::max(left, std::chrono::milliseconds(1)), -1, on_line)) {
      exits.push_back(exit);
    }
  }
  // SIGKILL every group, also where the leader is gone: grandchildren that ignored SIGTERM.
  SignalAll(SIGKILL);
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& child = children_[i];
    if (!child.exited) {
      int status = 0;
      pid_t r;
      do {
        r = ::waitpid(child.pid, &status, 0);
      } while (r < 0 && errno == EINTR);
      child.exited = true;
      exits.push_back(r == child.pid ? DecodeWaitStatus(i, status) : ProcessExit{i, 128 + SIGKILL, SIGKILL});
    }
    Drain(i, on_line);
  }
  std::sort(exits.begin(), exits.end(), [](const ProcessExit& a, const ProcessExit& b) { return a.index < b.index; });
  return exits;
}

void ProcessGroup::KillAndReapAll() {
  for (Child& child : children_) {
    if (child.pid > 0) ::kill(-child.pid, SIGKILL);
    if (child.pid > 0 && !child.exited) {
      int status = 0;
      while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
      }
      child.exited = true;
    }
    if (child.output_fd >= 0) {
      ::close(child.output_fd);
      child.output_fd = -1;
    }
  }
}

}  // namespace ringleader::local
