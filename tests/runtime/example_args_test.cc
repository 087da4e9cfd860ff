// Every `ringleader-worker train` command line in examples/*.yaml is accepted by the real
// binary (`--check-args`: flags and their combination, not the environment or what this build
// supports), so an example cannot ship a flag set that exits 2 on every attempt.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "ringleader/api/yaml_loader.h"
#include "ringleader/runtime/app/exit_codes.h"
#include "subprocess.h"

namespace ringleader::runtime {
namespace {

using namespace std::chrono_literals;

// The worker's argv after "ringleader-worker train", or nothing when the container does not
// run the demo trainer (e.g. torchrun). `launch [flags] -- CMD...` runs CMD.
std::optional<std::vector<std::string>> TrainArgs(const nlohmann::json& container) {
  std::vector<std::string> argv;
  for (const char* field : {"command", "args"}) {
    if (!container.contains(field)) continue;
    for (const auto& arg : container[field]) argv.push_back(arg.get<std::string>());
  }
  if (argv.size() >= 2 && argv[0] == "ringleader-worker" && argv[1] == "launch") {
    auto dashes = std::find(argv.begin(), argv.end(), "--");
    if (dashes == argv.end()) return std::nullopt;
    argv.erase(argv.begin(), dashes + 1);
  }
  if (argv.size() < 2 || argv[0] != "ringleader-worker" || argv[1] != "train") return std::nullopt;
  return std::vector<std::string>(argv.begin() + 2, argv.end());
}

TEST(ExampleArgsTest, EveryExampleTrainCommandLineIsAccepted) {
  testing::TempDir dir;
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(RINGLEADER_SOURCE_DIR "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    auto docs = api::LoadYamlFile(entry.path().string());
    ASSERT_TRUE(docs.ok()) << name << ": " << docs.status().ToString();
    for (const auto& doc : *docs) {
      if (doc.value("kind", "") != "TrainingJob") continue;
      for (const auto& container : doc["spec"]["template"]["spec"]["containers"]) {
        auto args = TrainArgs(container);
        if (!args.has_value()) continue;
        std::vector<std::string> argv = {RINGLEADER_WORKER_BINARY, "train"};
        argv.insert(argv.end(), args->begin(), args->end());
        argv.push_back("--check-args");
        testing::Subprocess worker(argv, {}, dir.path(), "check");
        EXPECT_EQ(worker.Wait(10s), kExitSuccess) << name << ": " << worker.Stderr();
        ++checked;
      }
    }
  }
  // cpu-job, gpu-job, local-mlp and volcano-job run the demo trainer.
  EXPECT_GE(checked, 4);
}

}  // namespace
}  // namespace ringleader::runtime
