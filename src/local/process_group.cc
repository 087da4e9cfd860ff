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

#include "ringleader/common/subprocess.h"

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

}  // namespace

ProcessGroup::~ProcessGroup() { KillAndReapAll(); }

Status ProcessGroup::Start(const std::vector<ProcessSpec>& specs) {
  KillAndReapAll();
  children_.clear();
  for (size_t i = 0; i < specs.size(); ++i) {
    const ProcessSpec& spec = specs[i];
    subprocess::SpawnOptions options;
    options.program = spec.executable;
    options.search_path = false;
    options.argv = spec.argv;
    options.replace_env = true;
    for (const std::string& var : spec.env) {
      const size_t eq = var.find('=');
      options.env.emplace_back(var.substr(0, eq), eq == std::string::npos ? "" : var.substr(eq + 1));
    }
    options.stdin_from = subprocess::Redirect::DevNull();
    options.stdout_to = subprocess::Redirect::Pipe();
    options.stderr_to = subprocess::Redirect::ToStdout();
    options.new_process_group = true;
    // Unblocked, with default handlers: a SIGTERM sent right away kills the child instead of
    // running the parent's stop handler in it.
    options.signal_mask.emplace();
    sigemptyset(&*options.signal_mask);
    options.default_signals = {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD};
    auto spawned = subprocess::Spawn(options);
    if (!spawned.ok()) {
      KillAndReapAll();
      return UnavailableError("worker " + std::to_string(spec.worker_rank) + ": " + spawned.status().message());
    }
    Child child;
    child.pid = spawned->pid;
    child.output_fd = spawned->stdout_fd;
    ::fcntl(child.output_fd, F_SETFL, ::fcntl(child.output_fd, F_GETFL) | O_NONBLOCK);
    children_.push_back(std::move(child));
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
