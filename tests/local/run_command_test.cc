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
#include "ringleader/common/subprocess.h"

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
  EXPECT_NE(o.out.find("\nSucceeded: all 2 workers exited with code 0"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("logs: " + tmp.path() + "/run\n"), std::string::npos) << o.out;
  EXPECT_EQ(ReadFile(tmp.path() + "/run/attempt-0/worker-1.log"), "hello from 1 of 2\n");
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

// A stand-in for torchrun with its shape: it takes its settings from PET_NNODES, PET_NODE_RANK,
// PET_NPROC_PER_NODE, PET_MASTER_ADDR and PET_MASTER_PORT (the variables torchrun reads as
// its flags), starts PET_NPROC_PER_NODE children of the command it was given with RANK,
// LOCAL_RANK, WORLD_SIZE and MASTER_ADDR/PORT computed as torchrun computes them, and exits
// with the first failing child's code. Named `torchrun` so `ringleader run` sees a launcher.
std::string WriteTorchrunStandIn(const TempDir& tmp) {
  fs::create_directories(tmp.path() + "/bin");
  const std::string path = tmp.path() + "/bin/torchrun";
  std::ofstream(path) << R"(#!/bin/sh
set -u
echo "torchrun nnodes=$PET_NNODES node_rank=$PET_NODE_RANK nproc=$PET_NPROC_PER_NODE pid=$$"
pids=""
local_rank=0
while [ "$local_rank" -lt "$PET_NPROC_PER_NODE" ]; do
  RANK=$((PET_NODE_RANK * PET_NPROC_PER_NODE + local_rank)) LOCAL_RANK=$local_rank \
  WORLD_SIZE=$((PET_NNODES * PET_NPROC_PER_NODE)) LOCAL_WORLD_SIZE=$PET_NPROC_PER_NODE \
  MASTER_ADDR=$PET_MASTER_ADDR MASTER_PORT=$PET_MASTER_PORT "$@" &
  pids="$pids $!"
  local_rank=$((local_rank + 1))
done
code=0
for pid in $pids; do wait "$pid" || code=$?; done
exit "$code"
)";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

// The issue's case: a torchrun job (workers 2, processesPerWorker 3) runs the container
// command once per worker, as its Pods would, and torchrun starts the 3 processes of each:
// 2 torchruns, 6 children, every global rank once, local ranks 0..2 on each worker, and the
// world size 6 everywhere, all sharing worker 0's master port. No warning: torchrun fans out.
TEST(RunCommandTest, TorchrunRunsOncePerWorkerAndStartsTheProcesses) {
  TempDir tmp;
  json job = ShellJob(2, "x");
  job["spec"]["processesPerWorker"] = 3;
  json& container = job["spec"]["template"]["spec"]["containers"][0];
  container["command"] = {WriteTorchrunStandIn(tmp)};
  container["args"] = {"/bin/sh", "-c",
                       "echo child rank=$RANK local_rank=$LOCAL_RANK world_size=$WORLD_SIZE "
                       "master=$MASTER_ADDR:$MASTER_PORT"};
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", job), "--run-dir", tmp.path() + "/run", "--no-tty"});
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_EQ(o.out.find("warning: spec.processesPerWorker"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\nSucceeded: all 2 workers exited with code 0"), std::string::npos) << o.out;

  std::regex torchrun_line(R"(\[w(\d)\] torchrun nnodes=(\d+) node_rank=(\d+) nproc=(\d+) pid=\d+)");
  std::set<int> nodes;
  int torchruns = 0;
  for (std::sregex_iterator it(o.out.begin(), o.out.end(), torchrun_line), end; it != end; ++it) {
    ++torchruns;
    EXPECT_EQ((*it)[1], (*it)[3]) << "worker N is node N";
    EXPECT_EQ((*it)[2], "2");
    EXPECT_EQ((*it)[4], "3");
    nodes.insert(std::stoi((*it)[3]));
  }
  EXPECT_EQ(torchruns, 2) << "once per worker, not workers x processesPerWorker\n" << o.out;
  EXPECT_EQ(nodes, (std::set<int>{0, 1}));

  std::regex child_line(R"(\[w(\d)\] child rank=(\d+) local_rank=(\d+) world_size=(\d+) master=127\.0\.0\.1:(\d+))");
  std::multiset<int> ranks;
  std::set<std::string> master_ports;
  int children = 0;
  for (std::sregex_iterator it(o.out.begin(), o.out.end(), child_line), end; it != end; ++it) {
    ++children;
    const int worker = std::stoi((*it)[1]);
    const int rank = std::stoi((*it)[2]);
    const int local_rank = std::stoi((*it)[3]);
    ranks.insert(rank);
    EXPECT_EQ(rank, worker * 3 + local_rank) << (*it)[0];
    EXPECT_LT(local_rank, 3) << (*it)[0];
    EXPECT_EQ((*it)[4], "6") << (*it)[0];
    master_ports.insert((*it)[5]);
  }
  EXPECT_EQ(children, 6) << o.out;
  EXPECT_EQ(ranks, (std::multiset<int>{0, 1, 2, 3, 4, 5})) << o.out;
  EXPECT_EQ(master_ports.size(), 1u) << o.out;
  EXPECT_NE(*master_ports.begin(), "0");
  // One log per worker, holding its torchrun's and its children's lines.
  const std::string log = ReadFile(tmp.path() + "/run/attempt-0/worker-1.log");
  EXPECT_NE(log.find("torchrun nnodes=2 node_rank=1 nproc=3"), std::string::npos) << log;
  EXPECT_NE(log.find("child rank=5 local_rank=2 world_size=6"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp.path() + "/run/attempt-0/worker-2.log"));
}

// A plain command with processesPerWorker > 1 runs once per worker, as in the Pod, and
// `ringleader run` warns that nothing starts the other processes, naming the field.
TEST(RunCommandTest, PlainCommandWithSeveralProcessesPerWorkerRunsOnceAndWarns) {
  TempDir tmp;
  json job = ShellJob(2, "x");
  job["spec"]["processesPerWorker"] = 2;
  job["spec"]["template"]["spec"]["containers"][0]["command"] = {"/usr/bin/env"};
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", job), "--run-dir", tmp.path() + "/run", "--no-tty"});
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("warning: spec.processesPerWorker is 2 but the command (/usr/bin/env) is not a launcher"),
            std::string::npos)
      << o.out;
  // `env` prints its environment once per worker: the Pod's RANK, no LOCAL_RANK.
  std::regex rank_line(R"(\[w(\d)\] RANK=(\d+)\n)");
  std::multiset<std::string> ranks;  // the two workers' output may come in either order
  for (std::sregex_iterator it(o.out.begin(), o.out.end(), rank_line), end; it != end; ++it) {
    ranks.insert(std::string((*it)[1]) + ":" + std::string((*it)[2]));
  }
  EXPECT_EQ(ranks, (std::multiset<std::string>{"0:0", "1:2"})) << o.out;
  EXPECT_EQ(o.out.find("] LOCAL_RANK="), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Succeeded: all 2 workers exited with code 0"), std::string::npos) << o.out;
}

// spec.checkpointDir becomes <run dir>/checkpoints, created before the first attempt and
// kept across attempts: attempt 0 writes a step there and fails, the gang restarts at once
// (the first restart has no backoff, even with --backoff-base-ms 600000), and attempt 1
// finds the step and says it resumed, which the summary shows.
TEST(RunCommandTest, CheckpointDirIsInTheRunDirAndSurvivesAGangRestart) {
  TempDir tmp;
  json job = ShellJob(2,
                      "if [ -f \"$RINGLEADER_CHECKPOINT_DIR/step-$RANK\" ]; then\n"
                      "  echo \"resumed from step=$(cat \"$RINGLEADER_CHECKPOINT_DIR/step-$RANK\")\"\n"
                      "  echo 'final step=10 loss=0.5 checksum=ab'; exit 0\n"
                      "fi\n"
                      "echo 4 > \"$RINGLEADER_CHECKPOINT_DIR/tmp-$RANK\"\n"
                      "mv \"$RINGLEADER_CHECKPOINT_DIR/tmp-$RANK\" \"$RINGLEADER_CHECKPOINT_DIR/step-$RANK\"\n"
                      // Fail only once both workers saved their step: the first exit stops the gang.
                      "until [ -f \"$RINGLEADER_CHECKPOINT_DIR/step-0\" ] && [ -f \"$RINGLEADER_CHECKPOINT_DIR/step-1\" ]; do\n"
                      "  sleep 0.01\n"
                      "done\n"
                      "exit 137\n",
                      {{"restartPolicy", "ExitCode"}, {"backoffLimit", 2}, {"activeDeadlineSeconds", 120}});
  job["spec"]["checkpointDir"] = "/ckpt";
  Outcome o = RunCli({WriteJob(tmp, "job.yaml", job), "--run-dir", tmp.path() + "/run", "--backoff-base-ms",
                      "600000", "--no-tty"});
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("note: spec.checkpointDir /ckpt is " + tmp.path() + "/run/checkpoints"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("next attempt in 0.0s"), std::string::npos) << o.out;
  EXPECT_TRUE(fs::exists(tmp.path() + "/run/checkpoints/step-0"));
  EXPECT_NE(o.out.find("  [w0]  resumed from step 4  steps 10"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("  [w1]  resumed from step 4  steps 10"), std::string::npos) << o.out;
}

// The one TrainingJob of examples/<name>.
json LoadExample(const std::string& name) {
  auto docs = api::LoadYamlFile(std::string(RINGLEADER_SOURCE_DIR "/examples/") + name);
  EXPECT_TRUE(docs.ok() && docs->size() == 1) << name << ": " << docs.status().message();
  return docs.ok() && !docs->empty() ? (*docs)[0] : json::object();
}

// Runs the built `ringleader` binary with stdout+stderr to `log`; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  subprocess::SpawnOptions options;
  options.argv = args;
  options.search_path = false;
  options.stdout_to = subprocess::Redirect::File(log);
  options.stderr_to = subprocess::Redirect::ToStdout();
  auto child = subprocess::Spawn(options);
  EXPECT_TRUE(child.ok()) << child.status().message();
  return child.ok() ? child->pid : -1;
}

// Waits for `pid` with a deadline; SIGKILLs it (and fails) when it does not exit in time.
int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  const std::optional<int> code = subprocess::WaitFor(pid, timeout);
  if (!code.has_value()) {
    subprocess::KillAndReap(pid);
    ADD_FAILURE() << "ringleader run did not exit within " << timeout.count() << "s";
    return -1;
  }
  return *code;
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
  json job = LoadExample("local-mlp.yaml");
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

// examples/local-mlp-checkpoint.yaml as the Pods run it: `ringleader-worker launch` is the
// container command and starts 2 trainers per worker (its launchers' store on the port local
// mode picked). Local rank 1 of worker 0 is killed (-9) once it has written a checkpoint; the
// launchers restart every worker's processes in place (no gang restart), and the trainers
// resume from the mapped checkpoint directory and finish with identical checksums.
TEST(RunCommandProcessTest, LaunchRestartsInPlaceAndTrainersResumeFromCheckpoints) {
#ifndef RINGLEADER_HAVE_WORKER
  GTEST_SKIP() << "ringleader-worker is not part of this build";
#endif
  TempDir tmp;
  json job = LoadExample("local-mlp-checkpoint.yaml");
  ASSERT_EQ(job["spec"]["processesPerWorker"], 2);
  json& container = job["spec"]["template"]["spec"]["containers"][0];
  ASSERT_EQ(container["command"][1], "launch");
  // The example's trainer behind a wrapper that kills local rank 1 of worker 0 once, in
  // generation 0, at its first checkpoint. Generation 0 is given more steps than it can reach
  // before the kill (the other ranks wait for rank 1 at every step), so it cannot finish
  // first; generation 1 resumes and trains to step 400 (steps are not part of the checkpoint's
  // fingerprint).
  const std::string train =
      "ringleader-worker train --steps $steps --backend tcp --seed 42 --checkpoint-every 5 --log-every 5";
  container["args"] = {"/bin/sh", "-c",
                       "steps=400; [ \"$RINGLEADER_IN_PLACE_RESTARTS\" = 0 ] && steps=1000000\n"
                       "if [ \"$RINGLEADER_IN_PLACE_RESTARTS\" = 0 ] && [ \"$RINGLEADER_RANK\" = 1 ]; then\n"
                       "  " + train + " & trainer=$!\n"
                       "  until ls \"$RINGLEADER_CHECKPOINT_DIR/rank-1\" 2>/dev/null | grep -q 'manifest$'; do sleep 0.05; done\n"
                       "  kill -9 $trainer; exit 137\n"
                       "fi\n"
                       "exec " + train + "\n"};
  const std::string file = WriteJob(tmp, "job.yaml", job);
  const pid_t pid = Spawn({RINGLEADER_BIN, "run", file, "--run-dir", tmp.path() + "/run", "--no-tty"},
                          tmp.path() + "/out.txt");
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(240)), 0) << ReadFile(tmp.path() + "/out.txt");
  const std::string out = ReadFile(tmp.path() + "/out.txt");
  // (The runtime may warn about a checkpoint the kill cut short; that is its own line.)
  EXPECT_EQ(out.find("warning: spec.processesPerWorker"), std::string::npos) << out;
  EXPECT_NE(out.find("note: spec.checkpointDir /checkpoints is " + tmp.path() + "/run/checkpoints"), std::string::npos)
      << out;
  EXPECT_NE(out.find("restarting the processes in place"), std::string::npos) << out;
  EXPECT_EQ(out.find("phase Restarting"), std::string::npos) << "no gang restart\n" << out;
  EXPECT_NE(out.find("Succeeded: all 2 workers exited with code 0"), std::string::npos) << out;
  EXPECT_NE(out.find("checksums identical: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("[w1] final step=400 "), std::string::npos) << out;
  // Both workers' trainers resumed from a checkpoint, and the summary says so.
  std::regex resumed(R"(\[w(\d)\] resumed from step=(\d+))");
  std::multiset<int> workers;
  for (std::sregex_iterator it(out.begin(), out.end(), resumed), end; it != end; ++it) {
    workers.insert(std::stoi((*it)[1]));
    EXPECT_GE(std::stoi((*it)[2]), 5) << (*it)[0];
    EXPECT_LT(std::stoi((*it)[2]), 400) << (*it)[0];
  }
  EXPECT_EQ(workers, (std::multiset<int>{0, 0, 1, 1})) << out;
  EXPECT_NE(out.find("  [w1]  resumed from step "), std::string::npos) << out;
}

}  // namespace
}  // namespace ringleader::cli
