#include "ringleader/local/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "ringleader/policy/failure_attribution.h"
#include "ringleader/policy/restart_policy.h"
#include "ringleader/local/process_group.h"
#include "ringleader/local/progress_line.h"

namespace ringleader::local {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using LogFile = std::unique_ptr<std::FILE, FileCloser>;

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

std::string SignalName(int signal) {
  const char* name = ::strsignal(signal);
  return name != nullptr ? name : "signal " + std::to_string(signal);
}

// Why an attempt ended.
enum class AttemptEnd { kSucceeded, kFailed, kStopped, kDeadline, kStartFailed };

class Run {
 public:
  Run(const LocalPlan& plan, const SupervisorOptions& options, RunObserver& observer, StopRequest& stop)
      : plan_(plan), options_(options), observer_(observer), stop_(stop), start_(Clock::now()) {
    const auto& policy = plan.job.spec.run_policy;
    if (policy.active_deadline_seconds.has_value()) {
      deadline_ = start_ + std::chrono::seconds(*policy.active_deadline_seconds);
    }
    view_.job_name = plan.job.metadata.name;
    view_.backoff_limit = policy.backoff_limit;
    view_.run_dir = options.run_dir;
    for (int worker = 0; worker < static_cast<int>(plan.workers()); ++worker) {
      WorkerView w;
      w.worker = worker;
      view_.workers.push_back(w);
    }
  }

  RunResult Go() {
    RunResult result;
    for (;;) {
      AttemptEnd end = RunAttempt();
      if (end == AttemptEnd::kFailed) {
        controller::RestartDecision decision =
            controller::DecideRestart(plan_.job.spec.run_policy, view_.restarts, failure_);
        if (decision.retry) {
          end = Backoff(decision);
          if (end == AttemptEnd::kFailed) continue;  // backoff over: next attempt
        } else {
          return Finish(api::JobPhase::kFailed, decision.reason, decision.message);
        }
      }
      switch (end) {
        case AttemptEnd::kSucceeded:
          return Finish(api::JobPhase::kSucceeded, success_reason_, success_message_);
        case AttemptEnd::kStopped:
          return Finish(api::JobPhase::kFailed, "Stopped", "stopped by " + SignalName(stop_.signal()));
        case AttemptEnd::kDeadline:
          return Finish(api::JobPhase::kFailed, "DeadlineExceeded",
                        "activeDeadlineSeconds " +
                            std::to_string(*plan_.job.spec.run_policy.active_deadline_seconds) +
                            " exceeded after " + Seconds(Elapsed()));
        case AttemptEnd::kStartFailed:
          return Finish(api::JobPhase::kFailed, "StartFailed", start_error_);
        case AttemptEnd::kFailed:
          break;  // unreachable: handled above
      }
    }
  }

 private:
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool DeadlinePassed() const { return deadline_.has_value() && Clock::now() >= *deadline_; }

  void SetPhase(api::JobPhase phase, std::string message) {
    view_.phase = phase;
    view_.message = std::move(message);
    view_.elapsed_seconds = Elapsed();
    observer_.OnPhase(view_);
  }

  void MaybeTick() {
    const auto now = Clock::now();
    if (now < next_tick_) return;
    next_tick_ = now + options_.tick;
    view_.elapsed_seconds = Elapsed();
    observer_.OnTick(view_);
  }

  RunResult Finish(api::JobPhase phase, std::string reason, std::string message) {
    RunResult result;
    result.phase = phase;
    result.reason = std::move(reason);
    result.message = message;
    result.stop_signal = stop_.signal();
    view_.ready = 0;
    SetPhase(phase, message);
    result.view = view_;
    return result;
  }

  void OnLine(size_t index, std::string_view line) {
    if (index < logs_.size() && logs_[index]) {
      std::fwrite(line.data(), 1, line.size(), logs_[index].get());
      std::fputc('\n', logs_[index].get());
    }
    WorkerView& r = view_.workers[index];
    if (auto progress = ParseProgressLine(line); progress.has_value()) {
      r.step = progress->step;
      r.loss = progress->loss;
      if (progress->is_final) {
        r.finished = true;
        r.checksum = progress->checksum;
      } else {
        if (!r.first_loss.has_value()) r.first_loss = progress->loss;
        RecordLoss(r, progress->step, progress->loss);
        r.total_steps = progress->total_steps;
        r.samples_per_second = progress->samples_per_second;
      }
    } else if (auto resumed = ParseResumeLine(line); resumed.has_value()) {
      r.resumed_from_step = resumed;
      r.last_line = std::string(line.substr(0, 200));
    } else if (!line.empty()) {
      r.last_line = std::string(line.substr(0, 200));
    }
    observer_.OnLine(view_, r.worker, line);
  }

  // Success per successPolicy: every worker exited 0, or (RankZero) worker 0 did.
  bool Succeeded() {
    const bool rank_zero = plan_.job.spec.run_policy.success_policy == api::SuccessPolicy::kRankZero;
    for (const WorkerView& r : view_.workers) {
      if (rank_zero && r.worker != 0) continue;
      if (!r.exit_code.has_value() || *r.exit_code != 0) return false;
    }
    success_reason_ = rank_zero ? "RankZeroSucceeded" : "Succeeded";
    success_message_ = rank_zero ? "worker 0 succeeded"
                                 : "all " + std::to_string(view_.workers.size()) + " workers exited with code 0";
    return true;
  }

  void RecordExits(const std::vector<ProcessExit>& exits, bool count_failures) {
    std::vector<controller::FailedWorker> failed;
    std::vector<const ProcessExit*> failed_exits;
    for (const ProcessExit& exit : exits) {
      WorkerView& r = view_.workers[exit.index];
      if (r.running) --view_.ready;
      r.running = false;
      r.exit_code = exit.exit_code;
      if (!count_failures || exit.exit_code == 0) continue;
      // Exits reaped together count as simultaneous (no finish time): the shared rule then
      // prefers an exit that is not "a peer failed first". An earlier batch already won.
      failed.push_back({r.worker, exit.exit_code, ""});
      failed_exits.push_back(&exit);
    }
    const auto root_cause = controller::PickRootCause(failed);
    if (root_cause && !have_failure_) {
      const ProcessExit* first_failure = failed_exits[*root_cause];
      have_failure_ = true;
      const WorkerView& r = view_.workers[first_failure->index];
      failure_ = {};
      failure_.kind = controller::FailureKind::kExitCode;
      failure_.rank = r.worker;
      failure_.exit_code = first_failure->exit_code;
      if (first_failure->signal != 0) failure_.reason = SignalName(first_failure->signal);
    }
  }

  AttemptEnd RunAttempt() {
    view_.attempt = view_.restarts;
    have_failure_ = false;
    // A fresh pair of ports per attempt avoids TIME_WAIT from the previous one.
    auto ports = PickFreePorts(2);
    if (!ports.ok()) {
      start_error_ = ports.status().message();
      return AttemptEnd::kStartFailed;
    }
    const AttemptPorts attempt_ports{(*ports)[0], (*ports)[1]};
    const std::vector<ProcessSpec> specs =
        BuildAttemptProcesses(plan_, view_.attempt, attempt_ports, options_.parent_env);
    const fs::path attempt_dir = fs::path(options_.run_dir) / ("attempt-" + std::to_string(view_.attempt));
    for (const fs::path& dir : {attempt_dir, fs::path(plan_.checkpoint_dir.value_or(""))}) {
      if (dir.empty()) continue;
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) {
        start_error_ = "creating " + dir.string() + ": " + ec.message();
        return AttemptEnd::kStartFailed;
      }
    }
    logs_.clear();
    for (const ProcessSpec& spec : specs) {
      const fs::path path = attempt_dir / ("worker-" + std::to_string(spec.worker_rank) + ".log");
      LogFile file(std::fopen(path.c_str(), "we"));  // close-on-exec: workers must not inherit logs
      if (!file) {
        start_error_ = "opening " + path.string() + ": " + std::strerror(errno);
        return AttemptEnd::kStartFailed;
      }
      std::setvbuf(file.get(), nullptr, _IOLBF, 0);
      logs_.push_back(std::move(file));
    }
    for (WorkerView& r : view_.workers) r = WorkerView{.worker = r.worker};

    ProcessGroup group;
    auto on_line = [this](size_t index, std::string_view line) { OnLine(index, line); };
    if (Status started = group.Start(specs); !started.ok()) {
      start_error_ = started.message();
      return AttemptEnd::kStartFailed;
    }
    for (WorkerView& r : view_.workers) r.running = true;
    view_.ready = static_cast<int>(specs.size());
    SetPhase(api::JobPhase::kRunning,
             "127.0.0.1:" + std::to_string(attempt_ports.master) + ", logs in " + attempt_dir.string());

    AttemptEnd end;
    for (;;) {
      RecordExits(group.Poll(options_.tick, stop_.fd(), on_line), true);
      if (have_failure_) {
        end = AttemptEnd::kFailed;
        break;
      }
      if (Succeeded()) {
        end = AttemptEnd::kSucceeded;
        break;
      }
      if (stop_.signal() != 0) {
        end = AttemptEnd::kStopped;
        break;
      }
      if (DeadlinePassed()) {
        end = AttemptEnd::kDeadline;
        break;
      }
      MaybeTick();
    }
    if (group.running() > 0) {
      // Stopping the rest of the gang is not a failure of its own.
      if (end == AttemptEnd::kFailed) {
        SetPhase(api::JobPhase::kRestarting, controller::DescribeFailure(failure_) + "; stopping the gang");
      }
      RecordExits(group.Terminate(options_.grace, on_line), false);
    }
    logs_.clear();
    return end;
  }

  // Waits out the restart backoff; kFailed means "go on with the next attempt". The first
  // restart starts at once: a single failure (a lost peer, a preempted process) is the common
  // case and the checkpoints make recovery cheap, so waiting only pays off from the second
  // failure on, which then waits base, 2*base, ... (capped), as in the operator.
  AttemptEnd Backoff(const controller::RestartDecision& decision) {
    ++view_.restarts;
    // controller::RestartBackoff is 0 for the first restart, the operator's rule.
    const auto delay = controller::RestartBackoff(view_.restarts, options_.backoff_base, options_.backoff_cap);
    SetPhase(api::JobPhase::kRestarting,
             decision.message + "; next attempt in " + Seconds(std::chrono::duration<double>(delay).count()));
    const auto until = Clock::now() + delay;
    while (Clock::now() < until) {
      if (stop_.signal() != 0) return AttemptEnd::kStopped;
      if (DeadlinePassed()) return AttemptEnd::kDeadline;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (deadline_.has_value()) {
        left = std::min(left, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()));
      }
      pollfd fd{stop_.fd(), POLLIN, 0};
      ::poll(&fd, 1, static_cast<int>(std::clamp<int64_t>(left.count() + 1, 1, options_.tick.count())));
      MaybeTick();
    }
    if (stop_.signal() != 0) return AttemptEnd::kStopped;
    if (DeadlinePassed()) return AttemptEnd::kDeadline;
    return AttemptEnd::kFailed;
  }

  const LocalPlan& plan_;
  const SupervisorOptions& options_;
  RunObserver& observer_;
  StopRequest& stop_;
  const Clock::time_point start_;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point next_tick_{};
  RunView view_;
  std::vector<LogFile> logs_;
  bool have_failure_ = false;
  controller::AttemptFailure failure_;
  std::string success_reason_;
  std::string success_message_;
  std::string start_error_;
};

}  // namespace

StopRequest::StopRequest() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
}

StopRequest::~StopRequest() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

void StopRequest::Request(int signal) {
  int expected = 0;
  signal_.compare_exchange_strong(expected, signal);
  if (write_fd_ >= 0) {
    const char byte = 1;
    const int saved_errno = errno;
    (void)!::write(write_fd_, &byte, 1);
    errno = saved_errno;
  }
}

RunResult Supervise(const LocalPlan& plan, const SupervisorOptions& options, RunObserver& observer,
                    StopRequest& stop) {
  Run run(plan, options, observer, stop);
  return run.Go();
}

int ExitCodeFor(const RunResult& result) {
  if (result.phase == api::JobPhase::kSucceeded) return 0;
  if (result.reason == "Stopped" && result.stop_signal > 0) return 128 + result.stop_signal;
  return 1;
}

}  // namespace ringleader::local
