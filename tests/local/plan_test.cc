#include "ringleader/local/plan.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "local_test_util.h"
#include "ringleader/api/worker_env_builder.h"

namespace ringleader::local {
namespace {

using testing::ShellJob;
using nlohmann::json;

std::map<std::string, std::string> EnvMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const std::string& entry : env) {
    const size_t eq = entry.find('=');
    EXPECT_EQ(out.count(entry.substr(0, eq)), 0u) << "duplicate " << entry;
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

TEST(ResolveExecutableTest, Table) {
  const std::set<std::string> files = {"/opt/a/tool", "/opt/b/tool", "/opt/b/other"};
  auto fake = [&](const std::filesystem::path& p) { return files.count(p.string()) > 0; };
  EXPECT_EQ(ResolveExecutable("tool", "/opt/a:/opt/b", fake), "/opt/a/tool");
  EXPECT_EQ(ResolveExecutable("tool", "/opt/b:/opt/a", fake), "/opt/b/tool");
  EXPECT_EQ(ResolveExecutable("other", "/opt/a:/opt/b", fake), "/opt/b/other");
  EXPECT_EQ(ResolveExecutable("missing", "/opt/a:/opt/b", fake), std::nullopt);
  EXPECT_EQ(ResolveExecutable("/opt/a/tool", "", fake), "/opt/a/tool");
  EXPECT_EQ(ResolveExecutable("/opt/a/missing", "/opt/a", fake), std::nullopt);
  EXPECT_EQ(ResolveExecutable("", "/opt/a", fake), std::nullopt);
  EXPECT_EQ(ResolveExecutable("sh", "/nonexistent:/bin:/usr/bin").has_value(), true);
}

TEST(PrependToPathTest, PutsDirsFirstWithoutRepeats) {
  EXPECT_EQ(PrependToPath({"/b/x", "/b/y"}, "/usr/bin:/b/y:/bin"), "/b/x:/b/y:/usr/bin:/bin");
  EXPECT_EQ(PrependToPath({}, "/usr/bin"), "/usr/bin");
}

TEST(ProgramSearchDirsTest, FindsSiblingProgramDirsInABuildTree) {
  testing::TempDir tmp;
  namespace fs = std::filesystem;
  const fs::path cmd = fs::path(tmp.path()) / "build" / "src" / "cmd";
  fs::create_directories(cmd / "ringleader");
  fs::create_directories(cmd / "ringleader-worker");
  fs::create_directories(cmd / "ringleader-operator");
  EXPECT_EQ(ProgramSearchDirs(cmd / "ringleader" / "ringleader"),
            (std::vector<std::string>{(cmd / "ringleader").string(), (cmd / "ringleader-operator").string(),
                                      (cmd / "ringleader-worker").string()}));
  // Installed: only the program's own directory.
  EXPECT_EQ(ProgramSearchDirs("/usr/local/bin/ringleader"), (std::vector<std::string>{"/usr/local/bin"}));
}

TEST(BuildLocalPlanTest, TakesFirstContainerCommandArgsAndPlainEnv) {
  json job_json = ShellJob(2, "echo hi");
  json& container = job_json["spec"]["template"]["spec"]["containers"][0];
  container["args"] = {"ignored-by-sh", "x"};
  container["env"] = {{{"name", "A"}, {"value", "1"}},
                      {{"name", "FROM_SECRET"}, {"valueFrom", {{"secretKeyRef", {{"name", "s"}, {"key", "k"}}}}}},
                      {{"name", "EMPTY"}}};
  job_json["spec"]["template"]["spec"]["containers"].push_back(
      {{"name", "sidecar"}, {"image", "busybox"}, {"command", {"sleep", "1"}}});
  auto job = api::ParseTrainingJob(job_json);
  ASSERT_TRUE(job.ok()) << job.status().message();
  auto plan = BuildLocalPlan(*job, "/usr/bin:/bin");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->executable, "/bin/sh");
  EXPECT_EQ(plan->argv, (std::vector<std::string>{"/bin/sh", "-c", "echo hi", "ignored-by-sh", "x"}));
  EXPECT_EQ(plan->container_env,
            (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"EMPTY", ""}}));
  ASSERT_EQ(plan->notes.size(), 3u);
  EXPECT_NE(plan->notes[0].find("image busybox:1.36 is not used"), std::string::npos) << plan->notes[0];
  EXPECT_NE(plan->notes[1].find("env FROM_SECRET"), std::string::npos) << plan->notes[1];
  EXPECT_NE(plan->notes[1].find("valueFrom"), std::string::npos) << plan->notes[1];
  EXPECT_NE(plan->notes[2].find("1 more ignored"), std::string::npos) << plan->notes[2];
}

// examples/gpu-job.yaml's command: in a Pod the launcher starts the local ranks; locally it
// runs exactly as in the Pod, once per worker, so its in-place restarts work here too.
TEST(BuildLocalPlanTest, RunsRingleaderWorkerLaunchAsThePodWould) {
  json job_json = ShellJob(2, "x");
  job_json["spec"]["processesPerWorker"] = 3;
  json& container = job_json["spec"]["template"]["spec"]["containers"][0];
  container["command"] = {"ringleader-worker", "launch", "--grace-seconds", "5", "--"};
  container["args"] = {"sh", "-c", "echo hi"};
  auto job = api::ParseTrainingJob(job_json);
  ASSERT_TRUE(job.ok()) << job.status().message();
  auto fake = [](const std::filesystem::path& p) { return p == "/opt/rl/bin/ringleader-worker"; };
  auto plan = BuildLocalPlan(*job, "/opt/rl/bin", fake);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->executable, "/opt/rl/bin/ringleader-worker");
  EXPECT_EQ(plan->argv, (std::vector<std::string>{"ringleader-worker", "launch", "--grace-seconds", "5", "--", "sh",
                                                  "-c", "echo hi"}));
  const auto processes = BuildAttemptProcesses(*plan, 0, {29500, 29600}, {});
  ASSERT_EQ(processes.size(), 2u) << "once per worker; the command starts the 3 processes of each";
  for (int worker = 0; worker < 2; ++worker) {
    EXPECT_EQ(processes[worker].worker_rank, worker);
    EXPECT_EQ(processes[worker].argv, plan->argv);
  }
}

TEST(IsProcessLauncherTest, Table) {
  struct Case {
    std::vector<std::string> argv;
    bool launcher;
  };
  for (const Case& c : std::vector<Case>{
           {{"torchrun", "--rdzv-backend=static", "train.py"}, true},
           {{"/opt/conda/bin/torchrun", "train.py"}, true},
           {{"python", "-m", "torch.distributed.run", "train.py"}, true},
           {{"python3", "-u", "-m", "torch.distributed.launch", "train.py"}, true},
           {{"ringleader-worker", "launch", "--", "ringleader-worker", "train"}, true},
           {{"/usr/local/bin/ringleader-worker", "launch", "--", "x"}, true},
           {{"mpirun", "-np", "4", "a.out"}, true},
           {{"env", "A=1", "torchrun", "train.py"}, true},
           {{"accelerate", "launch", "train.py"}, true},
           {{"sh", "-c", "cd /w && exec torchrun train.py"}, true},
           {{"sh", "-c", "exec python train.py"}, false},
           {{"ringleader-worker", "train", "--steps", "5"}, false},
           {{"python", "train.py"}, false},
           {{"python", "-m", "mypkg.train"}, false},
           {{"accelerate", "config"}, false},
           {{"my-launcher", "launch", "--", "x"}, false},
           {{}, false},
       }) {
    std::string text;
    for (const std::string& arg : c.argv) text += arg + " ";
    EXPECT_EQ(IsProcessLauncher(c.argv), c.launcher) << text;
  }
}

// `ringleader validate` and `ringleader run` print this: processesPerWorker > 1 with a command
// that starts one process (in a Pod as locally), naming the field. Launchers, shell scripts
// and processesPerWorker 1 get no warning.
TEST(ProcessesPerWorkerWarningTest, NamesTheFieldOnlyWhenNothingFansOut) {
  auto job_with = [](std::vector<std::string> command, int ppw) {
    json job_json = ShellJob(2, "x");
    job_json["spec"]["processesPerWorker"] = ppw;
    job_json["spec"]["template"]["spec"]["containers"][0]["command"] = command;
    auto job = api::ParseTrainingJob(job_json);
    EXPECT_TRUE(job.ok()) << job.status().message();
    return *job;
  };
  auto warning = ProcessesPerWorkerWarning(job_with({"ringleader-worker", "train", "--steps", "5"}, 2));
  ASSERT_TRUE(warning.has_value());
  EXPECT_EQ(warning->rfind("spec.processesPerWorker is 2", 0), 0u) << *warning;
  EXPECT_NE(warning->find("(ringleader-worker train)"), std::string::npos) << *warning;
  EXPECT_NE(warning->find("only 1 process per worker runs"), std::string::npos) << *warning;
  EXPECT_FALSE(ProcessesPerWorkerWarning(job_with({"ringleader-worker", "train"}, 1)).has_value());
  EXPECT_FALSE(ProcessesPerWorkerWarning(job_with({"torchrun", "train.py"}, 4)).has_value());
  EXPECT_FALSE(
      ProcessesPerWorkerWarning(job_with({"ringleader-worker", "launch", "--", "ringleader-worker", "train"}, 2))
          .has_value());
  EXPECT_FALSE(ProcessesPerWorkerWarning(job_with({"python", "-m", "torch.distributed.run", "t.py"}, 2)).has_value());
  EXPECT_FALSE(ProcessesPerWorkerWarning(job_with({"/bin/sh", "-c", "anything"}, 2)).has_value());
}

TEST(BuildLocalPlanTest, ErrorsNameTheField) {
  json no_command = ShellJob(1, "x");
  no_command["spec"]["template"]["spec"]["containers"][0].erase("command");
  json not_found = ShellJob(1, "x");
  not_found["spec"]["template"]["spec"]["containers"][0]["command"] = {"no-such-program-xyz"};
  struct Case {
    json job;
    std::string field;
  };
  for (const Case& c : {Case{no_command, "spec.template.spec.containers[0].command:"},
                        Case{not_found, "spec.template.spec.containers[0].command[0]: \"no-such-program-xyz\""}}) {
    auto job = api::ParseTrainingJob(c.job);
    ASSERT_TRUE(job.ok()) << job.status().message();
    auto plan = BuildLocalPlan(*job, "/usr/bin:/bin");
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(plan.status().message().rfind(c.field, 0), 0u) << plan.status().message();
  }
}

// The env contract: exactly the variables the operator injects into the worker's Pod
// (api::BuildWorkerEnv), MASTER_ADDR=127.0.0.1 and the local ports, the injected names winning
// over the parent's, and no per-process variables (whatever the command starts sets those).
TEST(BuildAttemptProcessesTest, GivesEachWorkerItsPodEnvironment) {
  json job_json = ShellJob(2, "true");
  job_json["spec"]["processesPerWorker"] = 2;
  job_json["spec"]["template"]["spec"]["containers"][0]["env"] = {{{"name", "USER_VAR"}, {"value", "u"}}};
  const LocalPlan plan = testing::MakePlan(job_json);
  const auto processes = BuildAttemptProcesses(plan, 3, {40123, 40200},
                                               {"HOME=/home/x", "RANK=99", "PATH=/parent", "LOCAL_RANK=7",
                                                "CUDA_VISIBLE_DEVICES=4,5,6,7"});
  ASSERT_EQ(processes.size(), 2u);
  for (int worker = 0; worker < 2; ++worker) {
    const ProcessSpec& p = processes[worker];
    EXPECT_EQ(p.worker_rank, worker);
    EXPECT_EQ(p.executable, "/bin/sh");
    auto env = EnvMap(p.env);
    EXPECT_EQ(env["HOME"], "/home/x");
    EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
    EXPECT_EQ(env["USER_VAR"], "u");
    // What the operator gives worker `worker`'s Pod, with the local address and port.
    api::WorkerEnvParams params;
    params.worker_rank = worker;
    params.attempt = 3;
    params.master_addr = "127.0.0.1";
    params.master_port = 40123;
    for (const auto& [name, value] : api::BuildWorkerEnv(plan.job, params)) {
      EXPECT_EQ(env[name], value) << name;
    }
    EXPECT_EQ(env["RINGLEADER_WORKER_RANK"], std::to_string(worker));
    EXPECT_EQ(env["RINGLEADER_ATTEMPT"], "3");
    EXPECT_EQ(env["MASTER_ADDR"], "127.0.0.1");
    EXPECT_EQ(env["MASTER_PORT"], "40123");
    EXPECT_EQ(env["PET_MASTER_PORT"], "40123");
    EXPECT_EQ(env["WORLD_SIZE"], "4");
    EXPECT_EQ(env["PET_NNODES"], "2");
    EXPECT_EQ(env["PET_NPROC_PER_NODE"], "2");
    EXPECT_EQ(env["PET_NODE_RANK"], std::to_string(worker));
    EXPECT_EQ(env["RANK"], std::to_string(worker * 2)) << "the Pod's RANK (its first process), not the parent's 99";
    EXPECT_EQ(env["RINGLEADER_LAUNCHER_PORT"], "40200");
    EXPECT_EQ(env["RINGLEADER_CHECKPOINT_DIR"], "") << "no spec.checkpointDir";
    EXPECT_EQ(env.count("RINGLEADER_LOCAL_RANK"), 0u);
    EXPECT_EQ(env["LOCAL_RANK"], "7") << "the parent's, untouched: local mode sets no per-process variables";
    // Four visible devices dealt out in rank order: worker 0 gets 4,5 and worker 1 gets 6,7.
    EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], worker == 0 ? "4,5" : "6,7");
  }
}

TEST(BuildAttemptProcessesTest, OneOrNoVisibleDeviceIsLeftAlone) {
  const LocalPlan plan = testing::MakePlan(ShellJob(2, "true"));
  for (const ProcessSpec& p : BuildAttemptProcesses(plan, 0, {1234, 1235}, {"CUDA_VISIBLE_DEVICES=7"})) {
    EXPECT_EQ(EnvMap(p.env)["CUDA_VISIBLE_DEVICES"], "7");
  }
  for (const ProcessSpec& p : BuildAttemptProcesses(plan, 0, {1234, 1235}, {"HOME=/"})) {
    EXPECT_EQ(EnvMap(p.env).count("CUDA_VISIBLE_DEVICES"), 0u);
  }
}

// spec.checkpointDir is a container path; locally it is a directory of the run, handed to
// every worker as RINGLEADER_CHECKPOINT_DIR (so a gang restart resumes), and a note says so.
TEST(MapCheckpointDirTest, MapsTheContainerPathIntoTheRunDir) {
  json job_json = ShellJob(2, "true");
  job_json["spec"]["checkpointDir"] = "/ckpt";
  LocalPlan plan = testing::MakePlan(job_json);
  const size_t notes = plan.notes.size();
  testing::TempDir tmp;
  MapCheckpointDir(tmp.path() + "/run", &plan);
  ASSERT_TRUE(plan.checkpoint_dir.has_value());
  EXPECT_EQ(*plan.checkpoint_dir, tmp.path() + "/run/checkpoints");
  ASSERT_EQ(plan.notes.size(), notes + 1);
  EXPECT_NE(plan.notes.back().find("spec.checkpointDir /ckpt is " + tmp.path() + "/run/checkpoints"),
            std::string::npos)
      << plan.notes.back();
  for (const ProcessSpec& p : BuildAttemptProcesses(plan, 1, {1234, 1235}, {})) {
    EXPECT_EQ(EnvMap(p.env)["RINGLEADER_CHECKPOINT_DIR"], tmp.path() + "/run/checkpoints");
  }
  // A relative run dir becomes absolute: the workers may change directory.
  LocalPlan relative = testing::MakePlan(job_json);
  MapCheckpointDir("runs/x", &relative);
  ASSERT_TRUE(relative.checkpoint_dir.has_value());
  EXPECT_TRUE(std::filesystem::path(*relative.checkpoint_dir).is_absolute()) << *relative.checkpoint_dir;

  LocalPlan without = testing::MakePlan(ShellJob(2, "true"));
  MapCheckpointDir(tmp.path(), &without);
  EXPECT_FALSE(without.checkpoint_dir.has_value());
}

TEST(PickFreePortsTest, ReturnsDistinctBindablePorts) {
  auto ports = PickFreePorts(2);
  ASSERT_TRUE(ports.ok()) << ports.status().message();
  ASSERT_EQ(ports->size(), 2u);
  EXPECT_NE((*ports)[0], (*ports)[1]);
  for (int port : *ports) {
    EXPECT_GT(port, 0);
    EXPECT_LT(port, 65536);
  }
}

}  // namespace
}  // namespace ringleader::local
