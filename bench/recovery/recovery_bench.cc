// recovery_bench: how long a gang of 4 local ranks of the demo trainer takes to train again
// after one rank is killed (SIGKILL) mid-run, and how many steps it computes twice, two ways:
//
//   in_place         `ringleader-worker launch` (one Pod's supervisor, 4 processes) restarts
//                    the processes in place; they resume from their checkpoints;
//   process_restart  `ringleader run` (local mode) restarts the whole gang of processes, the
//                    way local mode restarts a gang; they resume from the same checkpoints.
//
// Each repeat also runs the same training uninterrupted, and checks that every rank of both
// interrupted runs ends with its checksum (bit-identical resume). Recovery is measured from the
// kill to the first step line after the first "resumed from step=" line: a step line means the
// whole gang completed a step (it all-reduces the loss). Lost steps are the highest step seen
// before the resume minus the step resumed from.
//
// Prints a table (median, min, max over --repeat runs) and the RESULT lines (medians).
// Not a test: it only prints numbers (bench/recovery/smoke_test.sh checks the format).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "collective_harness.h"
#include "ringleader/common/subprocess.h"
#include "ringleader/runtime/rendezvous/socket.h"
#include "subprocess.h"  // tests/runtime: ChildProcesses

namespace {

namespace fs = std::filesystem;
namespace subprocess = ringleader::subprocess;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string worker = RINGLEADER_WORKER_BINARY;
  std::string ringleader = RINGLEADER_BINARY;
  int repeat = 5;
  int steps = 1500;
  int kill_at = 325;  // between two checkpoints, so the lost steps are not 0 or a whole interval by luck
  int checkpoint_every = 50;
  std::string timeline;  // file for the step/time series of the last repeat ("" = none)
};

struct Outcome {
  bool ok = false;
  std::string error;
  double recovery_seconds = 0;
  int64_t lost_steps = 0;
  std::set<std::string> checksums;  // of the final lines
  std::vector<std::pair<double, int64_t>> timeline;  // seconds since start, step
  double kill_at_seconds = 0;
};

// A child whose combined stdout/stderr is read line by line with arrival times.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
        int keep_fd = -1) {
    subprocess::SpawnOptions options;
    options.argv = argv;
    options.search_path = false;
    options.env = env;
    options.stdout_to = subprocess::Redirect::Pipe();
    options.stderr_to = subprocess::Redirect::ToStdout();
    options.new_process_group = true;
    if (keep_fd >= 0) options.keep_fds = {keep_fd};
    auto child = subprocess::Spawn(options);
    if (!child.ok()) {
      std::fprintf(stderr, "%s\n", child.status().message().c_str());
      return;
    }
    pid_ = child->pid;
    fd_ = child->stdout_fd;
  }
  ~Child() {
    if (pid_ > 0 && !exited_) subprocess::KillAndReap(pid_, /*group=*/true);
    if (fd_ >= 0) ::close(fd_);
  }
  pid_t pid() const { return pid_; }

  // The next line (nullopt at EOF or deadline), with the time it arrived.
  std::optional<std::string> NextLine(Clock::time_point deadline, Clock::time_point* at) {
    for (;;) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        *at = Clock::now();
        return line;
      }
      if (fd_ < 0) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left));
      char buffer[8192];
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n == 0) {
        ::close(fd_);
        fd_ = -1;
      } else if (n > 0) {
        pending_.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  int Wait() {
    if (pid_ <= 0) return 127;  // never started (Spawn said why)
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return subprocess::ExitCodeOf(status);
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
  bool exited_ = false;
};

std::vector<std::string> TrainArgs(const Options& o, const std::string& checkpoint_dir) {
  std::vector<std::string> args = {"--steps", std::to_string(o.steps), "--log-every", "1", "--backend", "tcp"};
  if (!checkpoint_dir.empty()) {
    args.insert(args.end(), {"--checkpoint-dir", checkpoint_dir, "--checkpoint-every",
                             std::to_string(o.checkpoint_every)});
  }
  return args;
}

// Reads `child` to the end; with kill_at > 0, SIGKILLs one of the ranks (children of
// `ranks_parent`) once a step >= kill_at was printed.
Outcome Observe(Child& child, int kill_at, pid_t ranks_parent) {
  static const std::regex step_re(R"((^|\s)step=(\d+) )");
  static const std::regex resumed_re(R"(resumed from step=(\d+))");
  static const std::regex final_re(R"(final step=\d+ loss=\S+ checksum=([0-9a-f]{16}))");
  Outcome out;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::minutes(3);
  std::optional<Clock::time_point> killed;
  std::optional<int64_t> resumed_from;
  int64_t highest_before_resume = 0;
  Clock::time_point at;
  while (auto line = child.NextLine(deadline, &at)) {
    std::smatch m;
    if (std::regex_search(*line, m, final_re)) {
      out.checksums.insert(m[1]);
    } else if (std::regex_search(*line, m, resumed_re)) {
      if (!resumed_from.has_value()) resumed_from = std::stoll(m[1]);
    } else if (std::regex_search(*line, m, step_re)) {
      const int64_t step = std::stoll(m[2]);
      out.timeline.emplace_back(std::chrono::duration<double>(at - start).count(), step);
      if (!resumed_from.has_value()) highest_before_resume = std::max(highest_before_resume, step);
      if (killed.has_value() && resumed_from.has_value() && out.recovery_seconds == 0) {
        out.recovery_seconds = std::chrono::duration<double>(at - *killed).count();
      }
      if (kill_at > 0 && !killed.has_value() && step >= kill_at) {
        const std::vector<pid_t> ranks = ringleader::runtime::testing::ChildProcesses(ranks_parent);
        if (ranks.size() < 2) {
          out.error = "found " + std::to_string(ranks.size()) + " rank processes to kill";
          return out;
        }
        ::kill(ranks[ranks.size() / 2], SIGKILL);
        killed = Clock::now();
        out.kill_at_seconds = std::chrono::duration<double>(*killed - start).count();
      }
    }
  }
  const int code = child.Wait();
  if (code != 0) {
    out.error = "exited with " + std::to_string(code);
    return out;
  }
  if (kill_at > 0) {
    if (!killed.has_value() || !resumed_from.has_value() || out.recovery_seconds == 0) {
      out.error = "no kill, resume or step after the resume was seen";
      return out;
    }
    out.lost_steps = highest_before_resume - *resumed_from;
  }
  out.ok = true;
  return out;
}

std::vector<std::pair<std::string, std::string>> PodEnv(int master_port, int launcher_port, int listen_fd) {
  return {{"RINGLEADER_NUM_WORKERS", "1"},
          {"RINGLEADER_WORKER_RANK", "0"},
          {"RINGLEADER_PROCS_PER_WORKER", "4"},
          {"RINGLEADER_MASTER_ADDR", "127.0.0.1"},
          {"RINGLEADER_MASTER_PORT", std::to_string(master_port)},
          {"RINGLEADER_LAUNCHER_PORT", std::to_string(launcher_port)},
          {"RINGLEADER_STORE_FD", std::to_string(listen_fd)},
          {"RINGLEADER_ATTEMPT", "0"},
          {"RINGLEADER_MAX_IN_PLACE_RESTARTS", "3"},
          {"RINGLEADER_RESTART_POLICY", "ExitCode"}};
}

// One Pod with 4 processes under the launcher; kill_at = 0 runs it uninterrupted.
Outcome RunInPlace(const Options& o, const std::string& checkpoint_dir, int kill_at) {
  int master_port = 0, launcher_port = 0;
  auto master = ringleader::runtime::ListenTcp("127.0.0.1", 0, &master_port);
  auto listener = ringleader::runtime::ListenTcp("127.0.0.1", 0, &launcher_port);
  if (!master.ok() || !listener.ok()) return {false, "cannot bind 127.0.0.1:0"};
  std::vector<std::string> argv = {o.worker, "launch", "--", o.worker, "train"};
  for (const auto& a : TrainArgs(o, checkpoint_dir)) argv.push_back(a);
  Child child(argv, PodEnv(master_port, launcher_port, listener->get()), listener->get());
  listener->reset();
  return Observe(child, kill_at, child.pid());
}

// `ringleader run` of the same 4 ranks as 4 local workers.
Outcome RunProcessRestart(const Options& o, const fs::path& dir, const std::string& checkpoint_dir) {
  const fs::path yaml = dir / "recovery-job.yaml";
  {
    std::ofstream f(yaml);
    f << "apiVersion: ringleader.dev/v1alpha1\nkind: TrainingJob\nmetadata:\n  name: recovery\nspec:\n"
      << "  workers: 4\n  runPolicy:\n    restartPolicy: ExitCode\n    backoffLimit: 3\n"
      << "  template:\n    spec:\n      containers:\n        - name: trainer\n          image: unused\n"
      << "          command: [\"" << o.worker << "\", \"train\"]\n          args: [";
    bool first = true;
    for (const auto& a : TrainArgs(o, checkpoint_dir)) {
      f << (first ? "" : ", ") << "\"" << a << "\"";
      first = false;
    }
    f << "]\n";
  }
  Child child({o.ringleader, "run", "--no-tty", "--run-dir", (dir / "run").string(), yaml.string()}, {});
  return Observe(child, o.kill_at, child.pid());
}

// Median [min max] over the repeats: the benches' shared harness.
using ringleader::harness::Spread;
using ringleader::harness::SpreadOf;

int Usage() {
  std::fprintf(stderr,
               "usage: recovery_bench [--repeat N] [--steps N] [--kill-at STEP] [--checkpoint-every N]\n"
               "                      [--timeline FILE] [--worker PATH] [--ringleader PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--repeat") o.repeat = std::atoi(value.c_str());
    else if (flag == "--steps") o.steps = std::atoi(value.c_str());
    else if (flag == "--kill-at") o.kill_at = std::atoi(value.c_str());
    else if (flag == "--checkpoint-every") o.checkpoint_every = std::atoi(value.c_str());
    else if (flag == "--timeline") o.timeline = value;
    else if (flag == "--worker") o.worker = value;
    else if (flag == "--ringleader") o.ringleader = value;
    else return Usage();
  }
  if (o.repeat < 1 || o.steps < 2 || o.kill_at < 1 || o.kill_at >= o.steps || o.checkpoint_every < 1) return Usage();
  ::signal(SIGPIPE, SIG_IGN);
  const fs::path base = fs::temp_directory_path() / ("recovery_bench." + std::to_string(::getpid()));
  std::printf("recovery_bench: 4 ranks of the demo trainer (tcp), %d steps, one rank SIGKILLed at step %d, "
              "checkpoint every %d steps, %d repeats\n",
              o.steps, o.kill_at, o.checkpoint_every, o.repeat);
  std::map<std::string, std::vector<double>> recovery, lost;
  bool all_equal = true;
  Outcome last_in_place, last_restart;
  for (int r = 0; r < o.repeat; ++r) {
    const fs::path dir = base / ("repeat-" + std::to_string(r));
    fs::create_directories(dir);
    const Outcome reference = RunInPlace(o, "", 0);
    const Outcome in_place = RunInPlace(o, (dir / "ckpt-in-place").string(), o.kill_at);
    const Outcome restart = RunProcessRestart(o, dir, (dir / "ckpt-process").string());
    for (const auto& [name, outcome] : {std::pair{"reference", &reference}, {"in_place", &in_place},
                                        {"process_restart", &restart}}) {
      if (!outcome->ok) {
        std::fprintf(stderr, "recovery_bench: repeat %d: %s run failed: %s\n", r, name, outcome->error.c_str());
        fs::remove_all(base);
        return 1;
      }
    }
    const bool equal = reference.checksums.size() == 1 && in_place.checksums == reference.checksums &&
                       restart.checksums == reference.checksums;
    all_equal = all_equal && equal;
    recovery["in_place"].push_back(in_place.recovery_seconds);
    recovery["process_restart"].push_back(restart.recovery_seconds);
    lost["in_place"].push_back(static_cast<double>(in_place.lost_steps));
    lost["process_restart"].push_back(static_cast<double>(restart.lost_steps));
    std::printf("repeat %d: in_place %.3fs lost %lld | process_restart %.3fs lost %lld | checksums %s\n", r,
                in_place.recovery_seconds, static_cast<long long>(in_place.lost_steps), restart.recovery_seconds,
                static_cast<long long>(restart.lost_steps), equal ? "equal" : "DIFFER");
    last_in_place = in_place;
    last_restart = restart;
  }
  fs::remove_all(base);
  std::printf("\n%-16s %14s %14s %14s %10s %10s\n", "case", "recovery_s_med", "recovery_s_min", "recovery_s_max",
              "lost_med", "lost_max");
  for (const char* name : {"in_place", "process_restart"}) {
    const Spread rec = SpreadOf(recovery[name]);
    const Spread l = SpreadOf(lost[name]);
    std::printf("%-16s %14.3f %14.3f %14.3f %10.0f %10.0f\n", name, rec.median, rec.min, rec.max, l.median, l.max);
  }
  if (!o.timeline.empty()) {
    std::ofstream t(o.timeline);
    t << "# seconds since the kill, step (last repeat); block 0 in_place, block 1 process_restart\n";
    for (const auto* outcome : {&last_in_place, &last_restart}) {
      for (const auto& [seconds, step] : outcome->timeline) t << seconds - outcome->kill_at_seconds << " " << step << "\n";
      t << "\n\n";
    }
  }
  std::printf("\nRESULT in_place_recovery_seconds=%.3f\n", SpreadOf(recovery["in_place"]).median);
  std::printf("RESULT process_restart_recovery_seconds=%.3f\n", SpreadOf(recovery["process_restart"]).median);
  std::printf("RESULT lost_steps=%.0f\n", SpreadOf(lost["in_place"]).median);
  std::printf("RESULT checksum_equal=%d\n", all_equal ? 1 : 0);
  return 0;
}
