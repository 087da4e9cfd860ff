// `ringleader run` end to end: in-process for argument and validation errors, and as a real
// subprocess (the built binary) for Ctrl-C and the example with ringleader-worker.
#include "ringleader/cli/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "local_test_util.h"
#include "ringleader/api/yaml_loader.h"

namespace ringleader::cli {
namespace {

namespace fs = std::filesystem;
using local::testing::ReadFile;
using local::testing::ShellJob;
using local::testing::TempDir;
using local::testing::WaitFor;
using nlohmann::json;

std::string WriteJob(const TempDir& tmp, const std::string& name, const json& job) {
  const std::string path = tmp.path() + "/" + name;
  std::ofstream(path) << api::ToYaml(job);
  return path;
}

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome RunCli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = RunRun(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(RunCommandTest, UsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"--workers"}, {"a.yaml", "b.yaml"}, {"a.yaml", "--bogus"}, {"a.yaml", "--workers", "x"}}) {
    Outcome o = RunCli(args);
    EXPECT_EQ(o.code, 2);
    EXPECT_NE(o.err.find("usage: ringleader run FILE"), std::string::npos) << o.err;
  }
}

TEST(RunCommandTest, InvalidJobExits2NamingEveryField) {
  TempDir tmp;
  json job = ShellJob(0, "true");
  job["spec"]["port"] = "not-a-port";
  job["spec"]["template"]["spec"]["containers"][0].erase("image");
  Outcome o = RunCli({WriteJob(tmp, "bad.yaml", job), "--no-tty"});
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("spec.workers"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("spec.port"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("spec.template.spec.containers[0].image"), std::string::npos) << o.err;
  EXPECT_EQ(o.out, "");  // nothing was started
}

TEST(RunCommandTest, WorkersOverrideIsValidatedLikeTheField) {
  TempDir tmp;
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", ShellJob(2, "true")), "--workers", "0", "--no-tty"});
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("spec.workers"), std::string::npos) << o.err;
}

TEST(RunCommandTest, UnknownCommandExits2NamingTheField) {
  TempDir tmp;
  json job = ShellJob(1, "true");
  job["spec"]["template"]["spec"]["containers"][0]["command"] = {"definitely-not-installed-xyz"};
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", job), "--no-tty"});
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("spec.template.spec.containers[0].command[0]"), std::string::npos) << o.err;
}

TEST(RunCommandTest, WorkersOverrideRunsThatManyWithPrefixedLines) {
  TempDir tmp;
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", ShellJob(4, "echo hello from $RANK of $WORLD_SIZE")), "--workers", "2",
                   "--run-dir", tmp.path() + "/run", "--no-tty"});
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("[w0] hello from 0 of 2\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("[w1] hello from 1 of 2\n"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("[w2]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("note: image busybox:1.36 is not used"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("phase Running: attempt 0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\nSucceeded: all 2 processes exited with code 0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("logs: " + tmp.path() + "/run\n"), std::string::npos) << o.out;
  EXPECT_EQ(ReadFile(tmp.path() + "/run/attempt-0/rank-1.log"), "hello from 1 of 2\n");
}

TEST(RunCommandTest, FailurePrintsTheReasonAndExits1) {
  TempDir tmp;
  json job = ShellJob(3, "if [ $RANK = 2 ]; then echo broken; exit 1; fi; exec sleep 60",
                      {{"restartPolicy", "ExitCode"}, {"backoffLimit", 3}});
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", job), "--run-dir", tmp.path() + "/run", "--no-tty"});
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("[w2] broken\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Failed (PermanentExitCode): worker 2 exited with code 1"), std::string::npos) << o.out;
}

// Runs the built `ringleader` binary with stdout+stderr to `log`; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` with a deadline; SIGKILLs it (and fails) when it does not exit in time.
int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  int status = 0;
  const bool exited = WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "ringleader run did not exit within " << timeout.count() << "s";
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(RunCommandProcessTest, SigintStopsEveryProcessAndExits130) {
  TempDir tmp;
  const std::string dir = tmp.path();
  const std::string script = "sleep 60 &\necho $! > " + dir + "/grandchild-$RANK\necho $$ > " + dir +
                             "/pid-$RANK.tmp && mv " + dir + "/pid-$RANK.tmp " + dir + "/pid-$RANK\nwait\n";
  const std::string job = WriteJob(tmp, "job.yaml", ShellJob(3, script));
  const pid_t pid = Spawn({RINGLEADER_BIN, "run", job, "--run-dir", dir + "/run", "--grace-seconds", "5"},
                          dir + "/out.txt");
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int r = 0; r < 3; ++r) {
          if (!fs::exists(dir + "/pid-" + std::to_string(r))) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << ReadFile(dir + "/out.txt");
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(30)), 130) << ReadFile(dir + "/out.txt");
  const std::string out = ReadFile(dir + "/out.txt");
  EXPECT_NE(out.find("Stopped: interrupted by SIGINT"), std::string::npos) << out;
  for (int r = 0; r < 3; ++r) {
    for (const char* name : {"/pid-", "/grandchild-"}) {
      const pid_t child = std::stoi(ReadFile(dir + name + std::to_string(r)));
      // ringleader run reaped its ranks before exiting; orphaned grandchildren may linger as
      // zombies of init for a moment, which ProcessGone accepts.
      EXPECT_TRUE(WaitFor([&] { return local::testing::ProcessGone(child); }, std::chrono::seconds(5)))
          << name << r << " pid " << child << " survived";
    }
  }
}

TEST(RunCommandProcessTest, SigtermExits143) {
  TempDir tmp;
  const std::string dir = tmp.path();
  const std::string job = WriteJob(tmp, "job.yaml", ShellJob(2, "touch " + dir + "/up-$RANK; exec sleep 60"));
  const pid_t pid = Spawn({RINGLEADER_BIN, "run", job, "--run-dir", dir + "/run"}, dir + "/out.txt");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir + "/up-0") && fs::exists(dir + "/up-1"); },
                      std::chrono::seconds(30)));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(30)), 143) << ReadFile(dir + "/out.txt");
}

// examples/local-mlp.yaml with ringleader-worker found next to the ringleader binary: the
// loss goes down and every rank ends with the same checksum. Fewer steps and workers keep
// it fast on 2 cores; everything else comes from the example file.
TEST(RunCommandProcessTest, ExampleTrainsWithIdenticalChecksums) {
#ifndef RINGLEADER_HAVE_WORKER
  GTEST_SKIP() << "ringleader-worker is not part of this build";
#endif
  TempDir tmp;
  auto docs = api::LoadYamlFile(RINGLEADER_SOURCE_DIR "/examples/local-mlp.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  json job = (*docs)[0];
  json& args = job["spec"]["template"]["spec"]["containers"][0]["args"];
  ASSERT_EQ(args[0], "--steps");
  args[1] = "30";
  const std::string file = WriteJob(tmp, "local-mlp.yaml", job);
  const pid_t pid = Spawn({RINGLEADER_BIN, "run", file, "--workers", "2", "--run-dir", tmp.path() + "/run"},
                          tmp.path() + "/out.txt");
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(120)), 0) << ReadFile(tmp.path() + "/out.txt");
  const std::string out = ReadFile(tmp.path() + "/out.txt");
  EXPECT_NE(out.find("checksums identical: yes"), std::string::npos) << out;
  // Rank 0's loss: the first logged value is above the last.
  std::regex step_line(R"(\[w0\] step=(\d+) total_steps=30 loss=([0-9.eE+-]+))");
  std::vector<double> losses;
  for (std::sregex_iterator it(out.begin(), out.end(), step_line), end; it != end; ++it) {
    losses.push_back(std::stod((*it)[2]));
  }
  ASSERT_GE(losses.size(), 2u) << out;
  EXPECT_LT(losses.back(), losses.front()) << out;
  std::set<std::string> checksums;
  std::regex final_line(R"(\[w\d\] final step=30 loss=\S+ checksum=([0-9a-f]+))");
  for (std::sregex_iterator it(out.begin(), out.end(), final_line), end; it != end; ++it) checksums.insert((*it)[1]);
  EXPECT_EQ(checksums.size(), 1u) << out;
}

}  // namespace
}  // namespace ringleader::cli
