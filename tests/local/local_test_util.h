#pragma once
// Helpers shared by the local-mode tests: temp dirs, jobs whose container runs a /bin/sh
// script, a recording observer, and waits with deadlines (never sleeps for correctness).

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ringleader/api/validation.h"
#include "ringleader/local/plan.h"
#include "ringleader/local/supervisor.h"

namespace ringleader::local::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ringleader-local-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TrainingJob whose first container runs `/bin/sh -c script`.
inline nlohmann::json ShellJob(int workers, const std::string& script, nlohmann::json run_policy = nlohmann::json::object()) {
  return {
      {"apiVersion", "ringleader.dev/v1alpha1"},
      {"kind", "TrainingJob"},
      {"metadata", {{"name", "shell-job"}}},
      {"spec",
       {{"workers", workers},
        {"runPolicy", run_policy},
        {"template",
         {{"spec",
           {{"containers",
             {{{"name", "main"}, {"image", "busybox:1.36"}, {"command", {"/bin/sh", "-c", script}}}}}}}}}}},
  };
}

inline LocalPlan MakePlan(const nlohmann::json& job_json) {
  auto job = api::ParseTrainingJob(job_json);
  EXPECT_TRUE(job.ok()) << job.status().message();
  auto plan = BuildLocalPlan(*job, "/usr/bin:/bin");
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return *plan;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Gone: no such process, or a zombie waiting for a parent that is not us (init, a subreaper).
inline bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

class RecordingObserver : public RunObserver {
 public:
  void OnPhase(const RunView& view) override { phases.push_back(view.phase); }
  void OnLine(const RunView&, int worker, std::string_view line) override {
    lines.push_back(std::to_string(worker) + ":" + std::string(line));
  }
  void OnTick(const RunView&) override {}
  std::vector<api::JobPhase> phases;
  std::vector<std::string> lines;
};

inline SupervisorOptions FastOptions(const std::string& run_dir) {
  SupervisorOptions options;
  options.run_dir = run_dir;
  options.backoff_base = std::chrono::milliseconds(1);
  options.backoff_cap = std::chrono::milliseconds(5);
  options.grace = std::chrono::seconds(5);
  options.tick = std::chrono::milliseconds(20);
  options.parent_env = {"PATH=/usr/bin:/bin", "HOME=/tmp"};
  return options;
}

}  // namespace ringleader::local::testing
