#include "ringleader/local/plan.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "local_test_util.h"

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

// examples/gpu-job.yaml's command: in a pod the launcher starts the 8 local ranks; locally
// the plan already has one process per rank, so the launcher must not run on top of it.
TEST(BuildLocalPlanTest, UnwrapsRingleaderWorkerLaunch) {
  json job_json = ShellJob(2, "x");
  job_json["spec"]["processesPerWorker"] = 3;
  json& container = job_json["spec"]["template"]["spec"]["containers"][0];
  container["command"] = {"ringleader-worker", "launch", "--grace-seconds", "5", "--"};
  container["args"] = {"sh", "-c", "echo hi"};
  auto job = api::ParseTrainingJob(job_json);
  ASSERT_TRUE(job.ok()) << job.status().message();
  auto plan = BuildLocalPlan(*job, "/usr/bin:/bin");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->argv, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_TRUE(plan->executable == "/usr/bin/sh" || plan->executable == "/bin/sh") << plan->executable;
  ASSERT_EQ(plan->notes.size(), 2u);
  EXPECT_NE(plan->notes[0].find("\"ringleader-worker launch --grace-seconds 5 --\" is not run"), std::string::npos)
      << plan->notes[0];
  EXPECT_NE(plan->notes[0].find("starts the 3 processes of each worker itself"), std::string::npos)
      << plan->notes[0];
  EXPECT_EQ(BuildAttemptProcesses(*plan, 0, 29500, {}).size(), 6u) << "2 workers x 3, not x 3 again";

  struct Case {
    std::vector<std::string> argv;
    bool unwrapped;
  };
  for (const Case& c : {Case{{"/opt/rl/bin/ringleader-worker", "launch", "--", "train"}, true},
                        Case{{"ringleader-worker", "launch", "--"}, false},  // no command: the launcher's error
                        Case{{"ringleader-worker", "launch", "train"}, false},
                        Case{{"ringleader-worker", "train", "--", "x"}, false},
                        Case{{"my-launcher", "launch", "--", "x"}, false}}) {
    std::vector<std::string> argv = c.argv;
    std::vector<std::string> notes;
    EXPECT_EQ(UnwrapLauncher(*job, &argv, &notes), c.unwrapped) << c.argv[0] << " " << c.argv[1];
    EXPECT_EQ(argv.size() < c.argv.size(), c.unwrapped);
    EXPECT_EQ(notes.size(), c.unwrapped ? 1u : 0u);
  }
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

// The env contract: the same variables the operator injects, MASTER_ADDR=127.0.0.1, the
// local port, per-process ranks, and the injected names winning over the parent's.
TEST(BuildAttemptProcessesTest, InjectsTheClusterEnvContractPerProcess) {
  json job_json = ShellJob(2, "true");
  job_json["spec"]["processesPerWorker"] = 2;
  job_json["spec"]["template"]["spec"]["containers"][0]["env"] = {{{"name", "USER_VAR"}, {"value", "u"}}};
  const LocalPlan plan = testing::MakePlan(job_json);
  const auto processes =
      BuildAttemptProcesses(plan, 3, 40123, {"HOME=/home/x", "RANK=99", "PATH=/parent", "CUDA_VISIBLE_DEVICES=4,5"});
  ASSERT_EQ(processes.size(), 4u);
  for (int rank = 0; rank < 4; ++rank) {
    const ProcessSpec& p = processes[rank];
    EXPECT_EQ(p.rank, rank);
    EXPECT_EQ(p.worker_rank, rank / 2);
    EXPECT_EQ(p.local_rank, rank % 2);
    EXPECT_EQ(p.executable, "/bin/sh");
    auto env = EnvMap(p.env);
    EXPECT_EQ(env["HOME"], "/home/x");
    EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
    EXPECT_EQ(env["USER_VAR"], "u");
    EXPECT_EQ(env["RINGLEADER_JOB_NAME"], "shell-job");
    EXPECT_EQ(env["RINGLEADER_NAMESPACE"], "default");
    EXPECT_EQ(env["RINGLEADER_NUM_WORKERS"], "2");
    EXPECT_EQ(env["RINGLEADER_WORKER_RANK"], std::to_string(rank / 2));
    EXPECT_EQ(env["RINGLEADER_PROCS_PER_WORKER"], "2");
    EXPECT_EQ(env["RINGLEADER_ATTEMPT"], "3");
    EXPECT_EQ(env["MASTER_ADDR"], "127.0.0.1");
    EXPECT_EQ(env["RINGLEADER_MASTER_ADDR"], "127.0.0.1");
    EXPECT_EQ(env["MASTER_PORT"], "40123");
    EXPECT_EQ(env["RINGLEADER_MASTER_PORT"], "40123");
    EXPECT_EQ(env["WORLD_SIZE"], "4");
    EXPECT_EQ(env["RANK"], std::to_string(rank));
    EXPECT_EQ(env["RINGLEADER_RANK"], std::to_string(rank));
    EXPECT_EQ(env["LOCAL_RANK"], std::to_string(rank % 2));
    EXPECT_EQ(env["RINGLEADER_LOCAL_RANK"], std::to_string(rank % 2));
    EXPECT_EQ(env["LOCAL_WORLD_SIZE"], "2");
    EXPECT_EQ(env["PET_NNODES"], "2");
    EXPECT_EQ(env["PET_NODE_RANK"], std::to_string(rank / 2));
    // Two visible devices shared round-robin over the machine's four processes.
    EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], rank % 2 == 0 ? "4" : "5");
  }
}

TEST(BuildAttemptProcessesTest, OneOrNoVisibleDeviceIsLeftAlone) {
  const LocalPlan plan = testing::MakePlan(ShellJob(2, "true"));
  for (const ProcessSpec& p : BuildAttemptProcesses(plan, 0, 1234, {"CUDA_VISIBLE_DEVICES=7"})) {
    EXPECT_EQ(EnvMap(p.env)["CUDA_VISIBLE_DEVICES"], "7");
  }
  for (const ProcessSpec& p : BuildAttemptProcesses(plan, 0, 1234, {"HOME=/"})) {
    EXPECT_EQ(EnvMap(p.env).count("CUDA_VISIBLE_DEVICES"), 0u);
  }
}

TEST(PickFreePortTest, ReturnsABindablePort) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status().message();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

}  // namespace
}  // namespace ringleader::local
