// CheckpointStore: atomic saves, pruning, and every way a checkpoint can be damaged (each one
// skipped with a warning naming the file, the previous valid one used); and the demo trainer's
// resume: a run stopped and resumed ends bit-identical to an uninterrupted one, every rank.

#include "ringleader/runtime/app/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "gang.h"
#include "ringleader/runtime/app/trainer.h"
#include "subprocess.h"

namespace ringleader::runtime {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct Warnings {
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) { lines.push_back(line); };
  }
  bool Mentions(const std::string& text) const {
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

CheckpointStore OpenStore(const TempDir& dir, Warnings* warnings, int world = 4, int rank = 1, int keep = 3,
                          const std::string& fingerprint = "model-a") {
  CheckpointOptions o;
  o.dir = dir.path().string();
  o.rank = rank;
  o.world_size = world;
  o.keep = keep;
  o.fingerprint = fingerprint;
  o.warn = warnings->sink();
  auto store = CheckpointStore::Open(o);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return std::move(*store);
}

std::string PayloadOf(int64_t step) { return "weights-at-" + std::to_string(step) + std::string(1000, 'x'); }

TEST(CheckpointStoreTest, SavesLoadsAndKeepsTheNewest) {
  TempDir dir;
  Warnings warnings;
  CheckpointStore store = OpenStore(dir, &warnings, 4, 1, /*keep=*/2);
  for (int64_t step : {10, 20, 30}) ASSERT_TRUE(store.Save(step, PayloadOf(step)).ok());
  EXPECT_EQ(store.ValidSteps(), (std::vector<int64_t>{30, 20}));
  auto loaded = store.Load(30);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->payload, PayloadOf(30));
  // Pruned checkpoints are gone from disk, payload and manifest; no temporary file is left.
  EXPECT_FALSE(fs::exists(fs::path(store.rank_dir()) / CheckpointPayloadName(10)));
  EXPECT_FALSE(fs::exists(fs::path(store.rank_dir()) / CheckpointManifestName(10)));
  for (const auto& entry : fs::directory_iterator(store.rank_dir())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  EXPECT_TRUE(warnings.lines.empty());
}

enum class Damage { kTruncatePayload, kFlipPayloadByte, kRemoveManifest, kTruncateManifest, kGarbleManifest };

class CheckpointDamageTest : public ::testing::TestWithParam<Damage> {};

TEST_P(CheckpointDamageTest, DamagedNewestIsSkippedWithAWarningNamingTheFileAndThePreviousIsUsed) {
  TempDir dir;
  Warnings warnings;
  CheckpointStore store = OpenStore(dir, &warnings);
  ASSERT_TRUE(store.Save(10, PayloadOf(10)).ok());
  ASSERT_TRUE(store.Save(20, PayloadOf(20)).ok());
  const fs::path payload = fs::path(store.rank_dir()) / CheckpointPayloadName(20);
  const fs::path manifest = fs::path(store.rank_dir()) / CheckpointManifestName(20);
  std::string named;  // the file the warning must name
  switch (GetParam()) {
    case Damage::kTruncatePayload:
      fs::resize_file(payload, 100);
      named = payload.string();
      break;
    case Damage::kFlipPayloadByte: {
      std::fstream f(payload, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(500);
      f.put('y');
      named = payload.string();
      break;
    }
    case Damage::kRemoveManifest:
      fs::remove(manifest);
      named = payload.string();
      break;
    case Damage::kTruncateManifest:
      fs::resize_file(manifest, fs::file_size(manifest) - 4);  // cuts the "end" line
      named = manifest.string();
      break;
    case Damage::kGarbleManifest:
      std::ofstream(manifest, std::ios::trunc) << "not a manifest\n";
      named = manifest.string();
      break;
  }
  EXPECT_EQ(store.ValidSteps(), (std::vector<int64_t>{10}));
  EXPECT_TRUE(warnings.Mentions(named)) << (warnings.lines.empty() ? "no warning" : warnings.lines[0]);
  EXPECT_FALSE(store.Load(20).ok());
  auto loaded = store.Load(10);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->payload, PayloadOf(10));
}

INSTANTIATE_TEST_SUITE_P(Damages, CheckpointDamageTest,
                         ::testing::Values(Damage::kTruncatePayload, Damage::kFlipPayloadByte, Damage::kRemoveManifest,
                                           Damage::kTruncateManifest, Damage::kGarbleManifest));

TEST(CheckpointStoreTest, AnotherWorldSizeOrConfigurationIsNotLoaded) {
  TempDir dir;
  Warnings warnings;
  ASSERT_TRUE(OpenStore(dir, &warnings, /*world=*/4).Save(10, PayloadOf(10)).ok());
  CheckpointStore other_world = OpenStore(dir, &warnings, /*world=*/2);
  EXPECT_TRUE(other_world.ValidSteps().empty());
  EXPECT_TRUE(warnings.Mentions("world of 4 ranks, this run has 2")) << warnings.lines.size();
  CheckpointStore other_model = OpenStore(dir, &warnings, 4, 1, 3, "model-b");
  EXPECT_TRUE(other_model.ValidSteps().empty());
  EXPECT_TRUE(warnings.Mentions("another configuration"));
}

TEST(CheckpointStoreTest, BadOptionsAreRefused) {
  CheckpointOptions o;
  EXPECT_EQ(CheckpointStore::Open(o).status().code(), StatusCode::kInvalidArgument);  // no dir
  o.dir = "/tmp";
  o.rank = 4;
  o.world_size = 4;
  EXPECT_EQ(CheckpointStore::Open(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(TrainerStateTest, RoundTripsAndRefusesAnotherModel) {
  const std::vector<float> weights = {1.5f, -2.0f, 3.25f};
  const std::string payload = EncodeTrainerState(7, 0.25, weights);
  int64_t step = 0;
  double loss = 0;
  std::vector<float> out;
  ASSERT_TRUE(DecodeTrainerState(payload, 3, &step, &loss, &out).ok());
  EXPECT_EQ(step, 7);
  EXPECT_EQ(loss, 0.25);
  EXPECT_EQ(out, weights);
  EXPECT_FALSE(DecodeTrainerState(payload, 4, &step, &loss, &out).ok());
  EXPECT_FALSE(DecodeTrainerState(payload.substr(0, 10), 3, &step, &loss, &out).ok());
}

class NullSink : public ProgressSink {
 public:
  void Report(const ProgressReport&) override {}
  void Finish(int64_t, double, const std::string&) override {}
};

// Trains `steps` steps on 3 rank threads and returns each rank's result.
std::vector<TrainerResult> TrainGang(TrainerOptions options) {
  std::vector<TrainerResult> results(3);
  std::mutex mu;
  auto statuses = testing::RunGang(3, CommunicatorOptions{}, [&](Communicator& comm) -> Status {
    NullSink sink;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    TrainerOptions mine = options;
    mine.log = devnull;
    auto result = RunTrainer(mine, comm, sink);
    std::fclose(devnull);
    if (!result.ok()) return result.status();
    std::lock_guard<std::mutex> lock(mu);
    results[comm.rank()] = *result;
    return Status::Ok();
  });
  for (const Status& s : statuses) EXPECT_TRUE(s.ok()) << s.message();
  return results;
}

TEST(TrainerResumeTest, InterruptedAndResumedEndsBitIdenticalToUninterrupted) {
  TrainerOptions options;
  options.steps = 60;
  options.log_every = 7;
  const std::vector<TrainerResult> straight = TrainGang(options);

  TempDir dir;
  options.checkpoint_dir = dir.path().string();
  options.checkpoint_every = 25;
  options.steps = 37;  // "interrupted" after step 37: checkpoints 25 and 37 (the final one) exist
  TrainGang(options);
  // Rank 2's newest checkpoint is torn: the gang must agree on step 25, which every rank has.
  fs::resize_file(dir.path() / "rank-2" / CheckpointPayloadName(37), 10);
  options.steps = 60;
  const std::vector<TrainerResult> resumed = TrainGang(options);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(resumed[r].resumed_from, 25) << "rank " << r;
    EXPECT_EQ(resumed[r].steps, 60);
    EXPECT_EQ(resumed[r].checksum, straight[r].checksum) << "rank " << r;
    EXPECT_EQ(resumed[r].final_loss, straight[r].final_loss) << "rank " << r;
  }
  EXPECT_EQ(straight[0].checksum, straight[2].checksum);
}

TEST(TrainerResumeTest, StopRequestEndsAfterTheCurrentStepWithACheckpoint) {
  TempDir dir;
  TrainerOptions options;
  options.steps = 1000000;
  options.checkpoint_dir = dir.path().string();
  options.checkpoint_every = 0;  // only the stop writes one
  std::atomic<bool> stop{true};  // already requested: no step runs after the resume check
  options.stop_requested = &stop;
  const std::vector<TrainerResult> results = TrainGang(options);
  for (const TrainerResult& r : results) {
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.steps, 0);
  }
  // A checkpoint of step 0 (nothing trained) is not written: there is nothing to keep.
  EXPECT_FALSE(fs::exists(dir.path() / "rank-0" / CheckpointManifestName(0)));
}

}  // namespace
}  // namespace ringleader::runtime
