#pragma once
// Runs a LocalPlan with the operator's gang semantics on this machine:
//   - one process per worker (the container command, as in its Pod); every worker of an
//     attempt starts together (one ProcessGroup per attempt);
//   - the first failing worker tears the whole gang down, and the gang is restarted under
//     controller::DecideRestart (the operator's rules: restartPolicy, backoffLimit), with
//     RINGLEADER_ATTEMPT incremented and fresh ports: the first restart at once, later ones
//     after controller::RestartBackoff(restarts - 1);
//   - successPolicy AllWorkers (every worker exits 0) or RankZero (worker 0 exits 0; the rest
//     are then stopped);
//   - activeDeadlineSeconds, counted from the start of the run, stops everything (Failed,
//     DeadlineExceeded);
//   - StopRequest (Ctrl-C / SIGTERM) stops every process and ends the run.
// Every output line is written to <run_dir>/attempt-<a>/worker-<w>.log and handed to the
// observer. A mapped spec.checkpointDir (LocalPlan::checkpoint_dir) is created before the
// first attempt and kept across attempts. Single-threaded: call Supervise from one thread; only StopRequest::Request may
// be called from elsewhere (it is async-signal-safe).

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/local/plan.h"
#include "ringleader/local/run_view.h"

namespace ringleader::local {

// A self-pipe that a signal handler (or a test) writes to, to stop a running Supervise.
class StopRequest {
 public:
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;
  // Async-signal-safe. `signal` is remembered (the first one wins) for the exit code.
  void Request(int signal);
  int signal() const { return signal_.load(); }
  int fd() const { return read_fd_; }

 private:
  std::atomic<int> signal_{0};
  int read_fd_ = -1;
  int write_fd_ = -1;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // The phase, attempt or message changed (also once at the start).
  virtual void OnPhase(const RunView& view) = 0;
  // A line of output from worker `worker` (its command and whatever that started).
  virtual void OnLine(const RunView& view, int worker, std::string_view line) = 0;
  // Called about every `tick` while the run is going, for live displays.
  virtual void OnTick(const RunView& view) = 0;
};

struct SupervisorOptions {
  std::string run_dir;  // created if missing
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds(60)};
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
  std::chrono::milliseconds tick{100};
  std::vector<std::string> parent_env;  // NAME=value, the base environment of every process
};

struct RunResult {
  api::JobPhase phase = api::JobPhase::kFailed;  // kSucceeded or kFailed (also when stopped)
  std::string reason;   // "Succeeded", "RankZeroSucceeded", "BackoffLimitExceeded", "PermanentExitCode",
                        // "RestartPolicyNever", "DeadlineExceeded", "Stopped", "StartFailed"
  std::string message;  // one line naming the worker, exit code and rule
  int stop_signal = 0;  // the signal that stopped the run, if any
  RunView view;         // the final snapshot (per-worker results of the last attempt)
};

RunResult Supervise(const LocalPlan& plan, const SupervisorOptions& options, RunObserver& observer,
                    StopRequest& stop);

// The `ringleader run` exit code for a result: 0 Succeeded, 128+S when stopped by signal S
// (130 for Ctrl-C, 143 for SIGTERM), 1 otherwise.
int ExitCodeFor(const RunResult& result);

}  // namespace ringleader::local
