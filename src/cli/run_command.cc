// `ringleader run FILE`: local mode. Loads and validates the TrainingJob exactly as
// `ringleader validate` does, builds the local plan and hands it to the gang supervisor
// (src/local), with a live status view on a terminal and prefixed log lines otherwise.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/api/validation.h"
#include "ringleader/api/yaml_loader.h"
#include "ringleader/cli/commands.h"
#include "ringleader/local/plan.h"
#include "ringleader/local/run_view.h"
#include "ringleader/local/supervisor.h"

extern char** environ;

namespace ringleader::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kRunUsage =
    "usage: ringleader run FILE [--workers N] [--run-dir DIR] [--backoff-base-ms M]\n"
    "                           [--grace-seconds S] [--no-tty]\n";

bool ParseNonNegative(const std::string& text, int64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoll(text, &used);
    return used == text.size() && *out >= 0;
  } catch (...) {
    return false;
  }
}

struct RunArgs {
  std::string file;
  std::optional<int64_t> workers;
  std::string run_dir;
  int64_t backoff_base_ms = 1000;
  int64_t grace_seconds = 10;
  bool no_tty = false;
};

// Returns an error message, or "" when the arguments are fine.
std::string ParseRunArgs(const std::vector<std::string>& args, RunArgs* out) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (arg == "--no-tty") {
      out->no_tty = true;
    } else if (arg == "--workers" || arg == "--run-dir" || arg == "--backoff-base-ms" || arg == "--grace-seconds") {
      auto v = value();
      if (!v.has_value()) return arg + " needs a value";
      int64_t number = 0;
      if (arg == "--run-dir") {
        out->run_dir = *v;
      } else if (!ParseNonNegative(*v, &number)) {
        return arg + ": must be a non-negative integer, got \"" + *v + "\"";
      } else if (arg == "--workers") {
        out->workers = number;  // range checked by validation, like the YAML field
      } else if (arg == "--backoff-base-ms") {
        out->backoff_base_ms = number;
      } else {
        out->grace_seconds = number;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return "unknown flag " + arg;
    } else if (out->file.empty()) {
      out->file = arg;
    } else {
      return "run takes one file, got a second: " + arg;
    }
  }
  if (out->file.empty()) return "missing FILE";
  return "";
}

std::string DefaultRunDir(const std::string& job_name) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string base = "runs/" + job_name + "-" + stamp;
  std::string dir = base;
  std::error_code ec;
  for (int n = 2; fs::exists(dir, ec); ++n) dir = base + "-" + std::to_string(n);
  return dir;
}

std::string StopSignalName(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGHUP) return "SIGHUP";
  return "signal " + std::to_string(signal);
}

// Plain output: one line per phase change, every output line with its worker prefix.
class PlainObserver : public local::RunObserver {
 public:
  explicit PlainObserver(std::ostream& out) : out_(out) {}
  void OnPhase(const local::RunView& view) override { out_ << local::FormatPhaseLine(view) << "\n" << std::flush; }
  void OnLine(const local::RunView& view, int worker, std::string_view line) override {
    out_ << local::WorkerPrefix(view.workers[worker]) << " " << line << "\n";
  }
  void OnTick(const local::RunView&) override { out_ << std::flush; }

 private:
  std::ostream& out_;
};

// Terminal output: phase changes scroll, the status block below them is redrawn in place.
class TtyObserver : public local::RunObserver {
 public:
  explicit TtyObserver(std::ostream& out) : out_(out) {}
  void OnPhase(const local::RunView& view) override {
    Erase();
    out_ << local::FormatPhaseLine(view) << "\n";
    Draw(view);
  }
  void OnLine(const local::RunView&, int, std::string_view) override {}  // in the logs
  void OnTick(const local::RunView& view) override {
    Erase();
    Draw(view);
  }
  void Erase() {
    // Cursor up over the previous block, then clear to the end of the screen.
    if (drawn_lines_ > 0) out_ << "\x1b[" << drawn_lines_ << "F\x1b[J";
    drawn_lines_ = 0;
  }

 private:
  void Draw(const local::RunView& view) {
    winsize size{};
    int width = 100;
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) width = size.ws_col;
    const std::string block = local::RenderStatusView(view, width - 1);
    drawn_lines_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
    out_ << block << std::flush;
  }
  std::ostream& out_;
  int drawn_lines_ = 0;
};

local::StopRequest* g_stop = nullptr;

void OnStopSignal(int signal) {
  if (g_stop != nullptr) g_stop->Request(signal);
}

// Installs the stop handlers for the duration of a run and restores the old ones after.
class SignalScope {
 public:
  explicit SignalScope(local::StopRequest* stop) {
    g_stop = stop;
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &action, &saved_[i]);
    // A closed stdout must not kill the supervisor while workers run in their own groups.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, &saved_pipe_);
  }
  ~SignalScope() {
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &saved_[i], nullptr);
    ::sigaction(SIGPIPE, &saved_pipe_, nullptr);
    g_stop = nullptr;
  }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> saved_{};
  struct sigaction saved_pipe_ {};
};

}  // namespace

int RunRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  RunArgs options;
  if (std::string problem = ParseRunArgs(args, &options); !problem.empty()) {
    err << problem << "\n" << kRunUsage;
    return 2;
  }
  auto docs = api::LoadYamlFile(options.file);
  if (!docs.ok()) {
    err << docs.status().message() << "\n";
    return 2;
  }
  if (docs->size() != 1) {
    err << options.file << ": local mode runs one TrainingJob, the file has " << docs->size() << " documents\n";
    return 2;
  }
  json doc = (*docs)[0];
  if (options.workers.has_value() && doc.is_object() && doc.contains("spec") && doc["spec"].is_object()) {
    doc["spec"]["workers"] = *options.workers;
  }
  std::vector<api::FieldError> errors;
  api::TrainingJob job = api::ParseTrainingJob(doc, &errors);
  if (!errors.empty()) {
    err << options.file << (job.metadata.name.empty() ? "" : " " + job.metadata.name) << ": " << errors.size()
        << (errors.size() == 1 ? " problem\n" : " problems\n");
    for (const auto& e : errors) err << "  " << e.ToString() << "\n";
    return 2;
  }

  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const char* path_env = std::getenv("PATH");
  const std::string path = local::PrependToPath(ec ? std::vector<std::string>{} : local::ProgramSearchDirs(self),
                                                path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  auto plan = local::BuildLocalPlan(job, path);
  if (!plan.ok()) {
    err << options.file << " " << job.metadata.name << ": " << plan.status().message() << "\n";
    return 2;
  }
  local::SupervisorOptions supervisor;
  supervisor.run_dir = options.run_dir.empty() ? DefaultRunDir(job.metadata.name) : options.run_dir;
  local::MapCheckpointDir(supervisor.run_dir, &*plan);

  const int64_t ppw = job.spec.processes_per_worker;
  out << "ringleader run: " << job.metadata.name << ", " << job.spec.workers << " workers, "
      << "the container command once per worker (processesPerWorker " << ppw << "), restartPolicy "
      << api::ToString(job.spec.run_policy.restart_policy) << ", backoffLimit " << job.spec.run_policy.backoff_limit
      << "\n";
  if (auto warning = local::ProcessesPerWorkerWarning(job); warning.has_value()) {
    out << "warning: " << *warning << "\n";
  }
  for (const std::string& note : plan->notes) out << "note: " << note << "\n";
  if (job.spec.run_policy.suspend) out << "note: spec.runPolicy.suspend is true; local mode runs the job anyway\n";

  supervisor.backoff_base = std::chrono::milliseconds(options.backoff_base_ms);
  supervisor.backoff_cap = std::max(supervisor.backoff_cap, supervisor.backoff_base);
  supervisor.grace = std::chrono::seconds(options.grace_seconds);
  for (char** var = environ; var != nullptr && *var != nullptr; ++var) supervisor.parent_env.emplace_back(*var);

  const bool tty = !options.no_tty && &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  PlainObserver plain(out);
  TtyObserver live(out);
  local::RunObserver& observer = tty ? static_cast<local::RunObserver&>(live) : plain;

  local::StopRequest stop;
  local::RunResult result;
  {
    SignalScope signals(&stop);
    result = local::Supervise(*plan, supervisor, observer, stop);
  }
  if (tty) {
    live.Erase();
    out << local::RenderStatusView(result.view, 200);
  }
  out << local::RenderSummary(result.view);
  if (result.reason == "Stopped") {
    out << "Stopped: interrupted by " << StopSignalName(result.stop_signal) << "; every process was stopped\n";
  } else if (result.reason == api::ToString(result.phase)) {
    out << result.reason << ": " << result.message << "\n";
  } else {
    out << api::ToString(result.phase) << " (" << result.reason << "): " << result.message << "\n";
  }
  out << "logs: " << supervisor.run_dir << "\n" << std::flush;
  return local::ExitCodeFor(result);
}

}  // namespace ringleader::cli
