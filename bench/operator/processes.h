#pragma once
// Child processes for operator_bench (the test API server and the operator) and what the bench
// reads about them from /proc: resident memory and CPU time.
//
// Children get PR_SET_PDEATHSIG(SIGKILL), so a bench that crashes leaves no server or operator
// behind. Not thread-safe: one owner per ChildProcess.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ringleader::bench {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // Starts argv[0] with stdout and stderr appended to `log_path`. With `stdout_pipe`, stdout
  // is a pipe instead, read by WaitForLine.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path, bool stdout_pipe);
  // Reads stdout until a line equal to `line` arrives (true) or the deadline/EOF (false).
  bool WaitForLine(const std::string& line, std::chrono::milliseconds timeout);
  // `signal` (SIGTERM), then SIGKILL after `grace`. Returns the exit status as waitpid gives it (-1 when
  // not running).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(5), int signal = 15 /*SIGTERM*/);
  bool Running() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
};

struct ProcessMemory {
  double rss_mb = 0;   // VmRSS
  double peak_mb = 0;  // VmHWM
};
ProcessMemory ReadMemory(pid_t pid);

// utime + stime of the process (all threads), in seconds.
double CpuSeconds(pid_t pid);

// A port on 127.0.0.1 that was free a moment ago (bind to 0, read it, close).
int FreeLocalPort();

}  // namespace ringleader::bench
