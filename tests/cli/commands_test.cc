#include "ringleader/cli/commands.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ringleader/api/yaml_loader.h"

namespace ringleader::cli {
namespace {

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rl-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

constexpr const char* kGood = R"(apiVersion: ringleader.dev/v1alpha1
kind: TrainingJob
metadata: {name: good}
spec:
  workers: 2
  template: {spec: {containers: [{name: t, image: i}]}}
)";

constexpr const char* kBad = R"(apiVersion: ringleader.dev/v1alpha1
kind: TrainingJob
metadata: {name: bad}
spec:
  workers: 0
  port: 5
  template: {spec: {containers: [{name: t}]}}
)";

TEST_F(CommandsTest, ValidatePrintsValid) {
  std::ostringstream out, err;
  EXPECT_EQ(RunValidate({Write("good.yaml", kGood)}, out, err), 0);
  EXPECT_NE(out.str().find("good: valid"), std::string::npos) << out.str();
}

TEST_F(CommandsTest, ValidateListsEveryProblem) {
  std::ostringstream out, err;
  EXPECT_EQ(RunValidate({Write("multi.yaml", std::string(kGood) + "---\n" + kBad)}, out, err), 1);
  const std::string s = out.str();
  EXPECT_NE(s.find("(document 1) good: valid"), std::string::npos) << s;
  EXPECT_NE(s.find("(document 2) bad: 3 problems"), std::string::npos) << s;
  EXPECT_NE(s.find("spec.workers: must be 1..4096, got 0"), std::string::npos) << s;
  EXPECT_NE(s.find("spec.port: must be 1024..65535, got 5"), std::string::npos) << s;
  EXPECT_NE(s.find("spec.template.spec.containers[0].image: required"), std::string::npos) << s;
}

// processesPerWorker > 1 with a command that starts one process: valid, with a warning that
// names the field; a launcher (torchrun, ringleader-worker launch) gets none.
TEST_F(CommandsTest, ValidateWarnsWhenNothingStartsTheOtherProcesses) {
  auto job = [](const std::string& name, const std::string& command) {
    return "apiVersion: ringleader.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: " + name +
           "}\nspec:\n  workers: 2\n  processesPerWorker: 2\n  template: {spec: {containers: [{name: t, image: i, "
           "command: " + command + "}]}}\n";
  };
  std::ostringstream out, err;
  EXPECT_EQ(RunValidate({Write("jobs.yaml", job("plain", "[ringleader-worker, train]") + "---\n" +
                                                 job("torch", "[torchrun, t.py]") + "---\n" +
                                                 job("launch", "[ringleader-worker, launch, --, ringleader-worker, train]"))},
                        out, err),
            0)
      << out.str() << err.str();
  const std::string s = out.str();
  EXPECT_NE(s.find("(document 1) plain: valid\n  warning: spec.processesPerWorker is 2 but the command "
                   "(ringleader-worker train) is not a launcher"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("(document 2) torch: valid\n"), std::string::npos) << s;
  EXPECT_NE(s.find("(document 3) launch: valid\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("warning:"), s.rfind("warning:")) << "one warning only\n" << s;
}

TEST_F(CommandsTest, ValidateMissingFile) {
  std::ostringstream out, err;
  EXPECT_EQ(RunValidate({(dir_ / "nope.yaml").string()}, out, err), 2);
  EXPECT_NE(err.str().find("cannot open"), std::string::npos);
}

TEST_F(CommandsTest, RenderPrintsServiceAndPods) {
  std::ostringstream out, err;
  ASSERT_EQ(RunRender({Write("good.yaml", kGood), "--attempt", "3", "-n", "team"}, out, err), 0) << err.str();
  auto docs = api::LoadYamlDocuments(out.str());
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0]["kind"], "Service");
  EXPECT_EQ((*docs)[1]["metadata"]["name"], "good-worker-0");
  EXPECT_EQ((*docs)[2]["metadata"]["labels"]["ringleader.dev/attempt"], "3");
  EXPECT_EQ((*docs)[2]["metadata"]["namespace"], "team");
}

TEST_F(CommandsTest, RenderRefusesInvalidJobEntirely) {
  std::ostringstream out, err;
  EXPECT_EQ(RunRender({Write("multi.yaml", std::string(kGood) + "---\n" + kBad)}, out, err), 1);
  EXPECT_TRUE(out.str().empty()) << "a bad document must not render half a set";
  EXPECT_NE(err.str().find("spec.workers"), std::string::npos);
}

TEST_F(CommandsTest, RenderUsageErrors) {
  std::ostringstream out, err;
  EXPECT_EQ(RunRender({}, out, err), 2);
  EXPECT_EQ(RunRender({Write("g.yaml", kGood), "--attempt", "-1"}, out, err), 2);
  EXPECT_EQ(RunRender({Write("g.yaml", kGood), "--bogus"}, out, err), 2);
}

}  // namespace
}  // namespace ringleader::cli
