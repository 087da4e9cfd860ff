#pragma once
// Starts a set of processes, each as the leader of its own process group, collects their
// combined stdout/stderr line by line, reports exits, and tears them all down: SIGTERM to
// every process group, SIGKILL after a grace period, then every leader is reaped. Signalling
// the group (kill(-pgid)) rather than the pid reaches grandchildren too (a `sh -c` wrapper,
// torchrun's workers), and putting each worker in its own group keeps a terminal's Ctrl-C from
// reaching the workers directly: the supervisor decides how they stop.
//
// Not thread-safe: one thread owns a ProcessGroup. The destructor SIGKILLs and reaps whatever
// is still running, so no process outlives its group object.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "ringleader/common/status.h"
#include "ringleader/local/plan.h"

namespace ringleader::local {

struct ProcessExit {
  size_t index = 0;   // position in the vector given to Start
  int exit_code = 0;  // 128+S when killed by signal S (the Kubernetes convention)
  int signal = 0;     // S, or 0 when the process exited normally
};

class ProcessGroup {
 public:
  // Called with each complete output line (without the newline) of process `index`.
  using LineHandler = std::function<void(size_t index, std::string_view line)>;

  ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ~ProcessGroup();

  // Starts every process, or none: if one cannot be started, those already started are
  // killed and reaped and the error names the failing worker.
  Status Start(const std::vector<ProcessSpec>& specs);

  // Waits up to `timeout` for output, an exit, or `wake_fd` (-1: none) becoming readable;
  // delivers complete lines to `on_line` and returns the exits reaped (in worker order).
  std::vector<ProcessExit> Poll(std::chrono::milliseconds timeout, int wake_fd,
                                const LineHandler& on_line);

  // Sends `signal` to every process group that was started (also groups whose leader has
  // already exited, so orphaned grandchildren are reached).
  void SignalAll(int signal);

  // SIGTERM to all, waits up to `grace` for the leaders to exit (still delivering output),
  // then SIGKILL to every group; reaps every leader. Returns the exits seen meanwhile.
  std::vector<ProcessExit> Terminate(std::chrono::milliseconds grace, const LineHandler& on_line);

  size_t size() const { return children_.size(); }
  size_t running() const;
  pid_t pid(size_t index) const { return children_[index].pid; }

 private:
  struct Child {
    pid_t pid = -1;
    int output_fd = -1;  // read end of the stdout+stderr pipe; -1 after EOF
    std::string partial;
    bool exited = false;
  };
  void Drain(size_t index, const LineHandler& on_line);
  std::vector<ProcessExit> Reap();
  void KillAndReapAll();

  std::vector<Child> children_;
};

}  // namespace ringleader::local
