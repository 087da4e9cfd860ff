// ProcessGroup on its own: output framing, exit decoding, start failures, teardown.
#include "ringleader/local/process_group.h"

#include <signal.h>

#include <gtest/gtest.h>

#include "local_test_util.h"

namespace ringleader::local {
namespace {

ProcessSpec Shell(const std::string& script) {
  ProcessSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  return spec;
}

struct Collected {
  std::vector<std::vector<std::string>> lines;
  std::vector<ProcessExit> exits;
};

// Polls until every process has exited (deadline 20 s).
Collected RunToEnd(ProcessGroup& group, size_t n) {
  Collected c;
  c.lines.resize(n);
  auto on_line = [&](size_t index, std::string_view line) { c.lines[index].emplace_back(line); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (group.running() > 0 && std::chrono::steady_clock::now() < deadline) {
    for (const ProcessExit& e : group.Poll(std::chrono::milliseconds(50), -1, on_line)) c.exits.push_back(e);
  }
  EXPECT_EQ(group.running(), 0u);
  return c;
}

TEST(ProcessGroupTest, FramesLinesAndDecodesExits) {
  ProcessGroup group;
  const std::string long_line(100 * 1024, 'x');
  ASSERT_TRUE(group
                  .Start({Shell("echo one; echo two >&2; printf 'no newline'; exit 7"),
                          Shell("printf '%s\\n' " + long_line), Shell("kill -9 $$")})
                  .ok());
  Collected c = RunToEnd(group, 3);
  EXPECT_EQ(c.lines[0], (std::vector<std::string>{"one", "two", "no newline"}));
  // A line over 64 KiB is cut into pieces rather than buffered without bound.
  ASSERT_EQ(c.lines[1].size(), 2u);
  EXPECT_EQ(c.lines[1][0].size() + c.lines[1][1].size(), long_line.size());
  EXPECT_EQ(c.lines[1][0].size(), 64u * 1024);
  EXPECT_TRUE(c.lines[2].empty());
  ASSERT_EQ(c.exits.size(), 3u);
  std::sort(c.exits.begin(), c.exits.end(), [](auto& a, auto& b) { return a.index < b.index; });
  EXPECT_EQ(c.exits[0].exit_code, 7);
  EXPECT_EQ(c.exits[0].signal, 0);
  EXPECT_EQ(c.exits[1].exit_code, 0);
  EXPECT_EQ(c.exits[2].exit_code, 128 + SIGKILL);
  EXPECT_EQ(c.exits[2].signal, SIGKILL);
}

TEST(ProcessGroupTest, StartIsAllOrNothing) {
  testing::TempDir tmp;
  ProcessGroup group;
  ProcessSpec missing = Shell("true");
  missing.worker_rank = 1;
  missing.executable = tmp.path() + "/missing";
  Status started = group.Start({Shell("echo $$ > " + tmp.path() + "/first; exec sleep 60"), missing});
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.message().find("worker 1: cannot execute"), std::string::npos) << started.message();
  EXPECT_EQ(group.running(), 0u);
}

// SIGTERM first; a process that ignores it is SIGKILLed after the grace period, and so is
// a grandchild left in the group after its parent exited.
TEST(ProcessGroupTest, TerminateEscalatesToSigkill) {
  testing::TempDir tmp;
  ProcessGroup group;
  const std::string ready = tmp.path() + "/ready";
  ASSERT_TRUE(group
                  .Start({Shell("trap '' TERM; touch " + ready + "-0; while :; do sleep 0.05; done"),
                          Shell("sh -c 'trap \"\" TERM; echo $$ > " + tmp.path() +
                                "/orphan; while :; do sleep 0.05; done' & touch " + ready + "-1; wait")})
                  .ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return std::filesystem::exists(ready + "-0") && std::filesystem::exists(ready + "-1") &&
               !testing::ReadFile(tmp.path() + "/orphan").empty();
      },
      std::chrono::seconds(20)));
  std::vector<std::string> lines;
  auto exits = group.Terminate(std::chrono::milliseconds(300),
                               [&](size_t, std::string_view line) { lines.emplace_back(line); });
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].exit_code, 128 + SIGKILL);  // ignored SIGTERM
  EXPECT_EQ(exits[1].exit_code, 128 + SIGTERM);  // the wrapper shell obeyed it
  const pid_t orphan = std::stoi(testing::ReadFile(tmp.path() + "/orphan"));
  EXPECT_TRUE(testing::WaitFor([&] { return testing::ProcessGone(orphan); }, std::chrono::seconds(5)));
  EXPECT_EQ(group.running(), 0u);
}

}  // namespace
}  // namespace ringleader::local
