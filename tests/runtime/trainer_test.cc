// Trainer equivalence: N ranks with per-rank batch b end with the same weights (within fp
// tolerance) as one rank with batch N*b, and every rank ends with the same checksum.

#include "ringleader/runtime/app/trainer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gang.h"
#include "ringleader/runtime/collectives/gradient_averager.h"

namespace ringleader::runtime {
namespace {

class NullSink : public ProgressSink {
 public:
  void Report(const ProgressReport& r) override { reports.push_back(r); }
  void Finish(int64_t, double, const std::string&) override {}
  std::vector<ProgressReport> reports;
};

std::vector<TrainerResult> TrainGang(int ranks, Backend backend, TrainerOptions options) {
  CommunicatorOptions comm_options;
  comm_options.backend = backend;
  std::vector<TrainerResult> results(ranks);
  auto statuses = testing::RunGang(ranks, comm_options, [&](Communicator& comm) -> Status {
    NullSink sink;
    ASSIGN_OR_RETURN(results[comm.rank()], RunTrainer(options, comm, sink));
    return Status::Ok();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s.ToString();
  return results;
}

TEST(TrainerTest, DataParallelMatchesOneRankWithTheGlobalBatch) {
  struct Case {
    Backend backend;
    int ranks;
    int bucket_kib;  // small buckets: several fused collectives per step
  };
  const Case cases[] = {{Backend::kTcp, 2, 25 << 10}, {Backend::kShm, 4, 4}, {Backend::kTcp, 3, 1}};
  for (const auto& c : cases) {
    TrainerOptions options;
    options.steps = 60;
    options.batch_size = 8;
    options.hidden = 32;
    options.log_every = 20;
    options.bucket_bytes = static_cast<size_t>(c.bucket_kib) << 10;
    auto gang = TrainGang(c.ranks, c.backend, options);
    TrainerOptions single = options;
    single.batch_size = options.batch_size * c.ranks;
    auto one = TrainGang(1, Backend::kTcp, single);
    ASSERT_EQ(one[0].weights.size(), gang[0].weights.size());
    for (int r = 0; r < c.ranks; ++r) {
      EXPECT_EQ(gang[r].checksum, gang[0].checksum) << "rank " << r << " diverged";
    }
    double max_diff = 0;
    for (size_t i = 0; i < one[0].weights.size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(one[0].weights[i] - gang[0].weights[i])));
    }
    EXPECT_LT(max_diff, 1e-4) << BackendName(c.backend) << " x" << c.ranks;
    EXPECT_NEAR(gang[0].final_loss, one[0].final_loss, 1e-5);
  }
}

TEST(TrainerTest, LossGoesDown) {
  TrainerOptions options;
  options.steps = 200;
  options.log_every = 10;
  CommunicatorOptions comm_options;
  comm_options.backend = Backend::kShm;
  std::vector<double> losses;
  auto statuses = testing::RunGang(2, comm_options, [&](Communicator& comm) -> Status {
    NullSink sink;
    ASSIGN_OR_RETURN(auto result, RunTrainer(options, comm, sink));
    if (comm.rank() == 0) {
      for (const auto& r : sink.reports) losses.push_back(r.loss);
    }
    return Status::Ok();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(losses.size(), 20u);
  EXPECT_LT(losses.back(), losses.front() / 5) << "first " << losses.front() << " last " << losses.back();
}

TEST(GradientAveragerTest, FusesIntoBucketsInReverseOrderAndAverages) {
  CommunicatorOptions comm_options;
  comm_options.backend = Backend::kTcp;
  std::vector<size_t> buckets(3);
  auto statuses = testing::RunGang(3, comm_options, [&](Communicator& comm) -> Status {
    // Sizes in floats: 1000, 10, 3000, 1. Buckets of 3072 floats (12 KiB), filled in reverse
    // order: {1, 3000, 10} (packed) then {1000} (single gradient, averaged in place).
    std::vector<std::vector<float>> grads = {std::vector<float>(1000), std::vector<float>(10),
                                             std::vector<float>(3000), std::vector<float>(1)};
    GradientAveragerOptions options;
    options.bucket_bytes = 12 << 10;
    GradientAverager averager(comm, options);
    for (auto& g : grads) averager.Register(g.data(), g.size());
    for (int step = 0; step < 3; ++step) {
      for (size_t k = 0; k < grads.size(); ++k) {
        for (size_t i = 0; i < grads[k].size(); ++i) {
          grads[k][i] = static_cast<float>(3 * (comm.rank() + step + k + i % 7));
        }
      }
      averager.MarkReady(3);
      averager.MarkReady(2);
      RETURN_IF_ERROR(averager.Wait());
      for (size_t k = 0; k < grads.size(); ++k) {
        for (size_t i = 0; i < grads[k].size(); ++i) {
          // mean over ranks 0..2 of 3*(r + c) = 3*(1 + c)
          const float want = static_cast<float>(3 * (1 + step + k + i % 7));
          if (grads[k][i] != want) return InternalError("wrong average");
        }
      }
    }
    buckets[comm.rank()] = averager.num_buckets();
    return Status::Ok();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(buckets[0], 2u);
}

}  // namespace
}  // namespace ringleader::runtime
