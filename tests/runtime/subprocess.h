#pragma once
// Test helper: runs a program with extra environment, stdout/stderr captured to files in a
// temp dir, and waits for conditions (output appears, process exits) with deadlines.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ringleader/common/subprocess.h"

namespace ringleader::runtime::testing {

// Polls `condition` every 5 ms until it is true (returns true) or `timeout` passed (false).
template <typename Condition>
bool WaitUntil(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class Subprocess {
 public:
  // keep_fd: a descriptor the child inherits (its close-on-exec flag is cleared), or -1.
  Subprocess(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             const std::filesystem::path& dir, const std::string& name, int keep_fd = -1)
      : out_path_(dir / (name + ".out")), err_path_(dir / (name + ".err")) {
    subprocess::SpawnOptions options;
    options.argv = argv;
    options.env = env;
    options.stdout_to = subprocess::Redirect::File(out_path_);
    options.stderr_to = subprocess::Redirect::File(err_path_);
    if (keep_fd >= 0) options.keep_fds = {keep_fd};
    auto child = subprocess::Spawn(options);
    if (child.ok()) {
      pid_ = child->pid;
    } else {  // as a shell would: the reason on stderr, exit code 127
      std::ofstream(err_path_) << child.status().message() << "\n";
      exit_code_ = 127;
    }
  }
  ~Subprocess() {
    if (pid_ > 0 && !exit_code_.has_value()) {
      subprocess::KillAndReap(pid_);
    }
  }

  pid_t pid() const { return pid_; }
  std::string Stdout() const { return Read(out_path_); }
  std::string Stderr() const { return Read(err_path_); }

  // Exit code (128+signal when killed), or nullopt if still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    if (!exit_code_.has_value()) exit_code_ = subprocess::WaitFor(pid_, timeout);
    return exit_code_;
  }

  // Waits until stdout contains `text`.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
    return WaitUntil([&] { return Stdout().find(text) != std::string::npos; }, timeout);
  }

 private:
  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path out_path_, err_path_;
};

// A fresh temp directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ringleader-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The processes whose parent is `parent`, ascending (read from /proc): the ranks a launcher
// or `ringleader run` started, for tests and benchmarks that kill one.
inline std::vector<pid_t> ChildProcesses(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(std::stoi(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ringleader::runtime::testing
