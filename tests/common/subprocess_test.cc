#include "ringleader/common/subprocess.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ringleader::subprocess {
namespace {

using std::chrono::seconds;

std::string ReadFd(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `script` under sh with stdout (and stderr) in one pipe; its output and exit code.
std::pair<std::string, int> RunShell(SpawnOptions options, const std::string& script) {
  options.argv = {"sh", "-c", script};
  options.stdout_to = Redirect::Pipe();
  options.stderr_to = Redirect::ToStdout();
  auto child = Spawn(options);
  EXPECT_TRUE(child.ok()) << child.status().message();
  if (!child.ok()) return {"", -1};
  std::string out = ReadFd(child->stdout_fd);
  const auto code = WaitFor(child->pid, seconds(10));
  EXPECT_TRUE(code.has_value());
  return {out, code.value_or(-1)};
}

TEST(SpawnTest, ReportsTheExitCodeAndSignal) {
  EXPECT_EQ(RunShell({}, "exit 7").second, 7);
  EXPECT_EQ(RunShell({}, "kill -TERM $$").second, 128 + SIGTERM);
}

TEST(SpawnTest, AddsToOrReplacesTheEnvironment) {
  ::setenv("RINGLEADER_SPAWN_TEST_PARENT", "inherited", 1);
  SpawnOptions add;
  add.env = {{"RINGLEADER_SPAWN_TEST_CHILD", "added"}, {"RINGLEADER_SPAWN_TEST_PARENT", "overridden"}};
  EXPECT_EQ(RunShell(add, "echo $RINGLEADER_SPAWN_TEST_PARENT $RINGLEADER_SPAWN_TEST_CHILD").first,
            "overridden added\n");
  EXPECT_EQ(RunShell({}, "echo $RINGLEADER_SPAWN_TEST_PARENT").first, "inherited\n");

  SpawnOptions replace;
  replace.replace_env = true;
  replace.env = {{"ONLY", "this"}, {"PATH", std::getenv("PATH")}};
  EXPECT_EQ(RunShell(replace, "echo ${RINGLEADER_SPAWN_TEST_PARENT:-unset} $ONLY").first, "unset this\n");
  ::unsetenv("RINGLEADER_SPAWN_TEST_PARENT");
}

TEST(SpawnTest, RedirectsToFilesTruncatingOrAppending) {
  const auto dir = std::filesystem::temp_directory_path() / ("spawn_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo out; echo err >&2"};
  options.stdout_to = Redirect::File(dir / "out");
  options.stderr_to = Redirect::File(dir / "err");
  for (int i = 0; i < 2; ++i) {
    auto child = Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status().message();
    EXPECT_EQ(WaitFor(child->pid, seconds(10)), 0);
  }
  EXPECT_EQ(ReadFile(dir / "out"), "out\n");  // truncated by the second run
  EXPECT_EQ(ReadFile(dir / "err"), "err\n");

  options.stdout_to = Redirect::File(dir / "log", /*append=*/true);
  options.stderr_to = Redirect::File(dir / "log", /*append=*/true);
  for (int i = 0; i < 2; ++i) {
    auto child = Spawn(options);
    ASSERT_TRUE(child.ok()) << child.status().message();
    EXPECT_EQ(WaitFor(child->pid, seconds(10)), 0);
  }
  EXPECT_EQ(ReadFile(dir / "log"), "out\nerr\nout\nerr\n");
  std::filesystem::remove_all(dir);
}

TEST(SpawnTest, StartsANewProcessGroupWithForkAndWithPosixSpawn) {
  for (bool with_fork : {false, true}) {
    SpawnOptions options;
    options.new_process_group = true;
    if (with_fork) options.parent_death_signal = SIGKILL;  // only fork+exec can express it
    const auto [out, code] = RunShell(options, "echo $$ $(ps -o pgid= -p $$)");
    EXPECT_EQ(code, 0);
    std::istringstream fields(out);
    pid_t pid = 0;
    pid_t group = 0;
    fields >> pid >> group;
    EXPECT_EQ(pid, group) << "with_fork=" << with_fork << ": " << out;
    EXPECT_NE(group, ::getpgrp());
  }
}

TEST(SpawnTest, KeepsTheListedDescriptorsOnly) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  SpawnOptions options;
  options.keep_fds = {fds[1]};
  const std::string script = "test -e /proc/self/fd/" + std::to_string(fds[1]) + " && echo kept; test -e /proc/self/fd/" +
                             std::to_string(fds[0]) + " || echo closed";
  EXPECT_EQ(RunShell(options, script).first, "kept\nclosed\n");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(SpawnTest, RunsInTheWorkingDirectory) {
  SpawnOptions options;
  options.working_dir = "/";
  EXPECT_EQ(RunShell(options, "pwd").first, "/\n");
  options.working_dir = "/nonexistent-ringleader-dir";
  options.argv = {"true"};
  auto child = Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("/nonexistent-ringleader-dir"), std::string::npos)
      << child.status().message();
}

TEST(SpawnTest, AFailedExecNamesTheProgram) {
  for (bool with_fork : {false, true}) {
    SpawnOptions options;
    options.argv = {"ringleader-no-such-program", "arg"};
    if (with_fork) options.parent_death_signal = SIGKILL;
    auto child = Spawn(options);
    ASSERT_FALSE(child.ok());
    EXPECT_EQ(child.status().message(),
              "cannot execute ringleader-no-such-program: " + std::string(std::strerror(ENOENT)));
  }
  SpawnOptions absolute;
  absolute.argv = {"/nonexistent/program"};
  absolute.search_path = false;
  auto child = Spawn(absolute);
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("cannot execute /nonexistent/program"), std::string::npos);
}

TEST(SpawnTest, KillAndReapEndsTheWholeGroup) {
  SpawnOptions options;
  options.new_process_group = true;
  options.argv = {"sh", "-c", "sleep 60 & sleep 60"};
  auto child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status().message();
  EXPECT_EQ(WaitFor(child->pid, std::chrono::milliseconds(50)), std::nullopt);
  KillAndReap(child->pid, /*group=*/true);
  // The background sleep is reparented and reaped by init: wait for the group to empty.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (::kill(-child->pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(::kill(-child->pid, 0), 0);  // nobody left in the group
}

}  // namespace
}  // namespace ringleader::subprocess
