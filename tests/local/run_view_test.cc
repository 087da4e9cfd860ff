#include "ringleader/local/run_view.h"

#include <gtest/gtest.h>

namespace ringleader::local {
namespace {

RunView TwoRanks() {
  RunView view;
  view.job_name = "mlp";
  view.phase = api::JobPhase::kRunning;
  view.attempt = 1;
  view.restarts = 1;
  view.backoff_limit = 3;
  view.ready = 2;
  view.elapsed_seconds = 12.34;
  for (int r = 0; r < 2; ++r) {
    RankView rank;
    rank.rank = r;
    rank.worker_rank = r;
    rank.running = true;
    rank.step = 50 + 50 * r;
    rank.total_steps = 200;
    rank.loss = 1.25;
    view.ranks.push_back(rank);
  }
  return view;
}

TEST(RunViewTest, ProgressBar) {
  EXPECT_EQ(ProgressBar(0.0, 10), "[..........]   0%");
  EXPECT_EQ(ProgressBar(0.5, 10), "[#####.....]  50%");
  EXPECT_EQ(ProgressBar(1.0, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(2.0, 4), "[####] 100%");  // clamped
}

TEST(RunViewTest, RankPrefix) {
  RankView r;
  r.worker_rank = 2;
  r.local_rank = 1;
  EXPECT_EQ(RankPrefix(r, 1), "[w2]");
  EXPECT_EQ(RankPrefix(r, 4), "[w2.1]");
}

TEST(RunViewTest, StatusViewShowsPhaseReadyRestartsAndSlowestRankProgress) {
  const std::string text = RenderStatusView(TwoRanks(), 1, 120);
  EXPECT_EQ(text,
            "mlp  Running  ready 2/2  attempt 1  restarts 1/3  12.3s\n"
            "  " + ProgressBar(0.25, 50) + "  step 50/200\n"
            "  [w0] running  step 50/200  loss 1.25\n"
            "  [w1] running  step 100/200  loss 1.25\n");
}

TEST(RunViewTest, StatusViewWithoutTotalStepsHasNoBarAndShowsLastLine) {
  RunView view = TwoRanks();
  view.ranks[0].total_steps = 0;
  view.ranks[1].step = -1;
  view.ranks[1].running = false;
  view.ranks[1].exit_code = 3;
  view.ranks[1].last_line = "boom";
  const std::string text = RenderStatusView(view, 1, 120);
  EXPECT_EQ(text.find('#'), std::string::npos) << text;
  EXPECT_NE(text.find("[w1] exit 3  | boom"), std::string::npos) << text;
}

TEST(RunViewTest, StatusViewCutsLinesToWidth) {
  const std::string text = RenderStatusView(TwoRanks(), 1, 20);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    EXPECT_LE(nl - start, 20u) << text;
  }
}

TEST(RunViewTest, RecordLossKeepsAnEvenBoundedSample) {
  RankView rank;
  for (int64_t step = 0; step < 10 * static_cast<int64_t>(kMaxLossHistory); ++step) RecordLoss(rank, step, 1.0);
  ASSERT_LE(rank.loss_history.size(), kMaxLossHistory);
  EXPECT_GE(rank.loss_history.size(), kMaxLossHistory / 2);
  EXPECT_EQ(rank.loss_history.front().first, 0);
  EXPECT_GT(rank.loss_history.back().first, 9 * static_cast<int64_t>(kMaxLossHistory));
  // Evenly thinned: one stride between all kept steps.
  const int64_t stride = rank.loss_history[1].first - rank.loss_history[0].first;
  EXPECT_EQ(stride, rank.loss_stride);
  for (size_t i = 1; i < rank.loss_history.size(); ++i) {
    EXPECT_EQ(rank.loss_history[i].first - rank.loss_history[i - 1].first, stride) << i;
  }
}

TEST(RunViewTest, PhaseLine) {
  RunView view = TwoRanks();
  view.message = "worker 1 exited with code 3";
  EXPECT_EQ(FormatPhaseLine(view),
            "phase Running: attempt 1, 2/2 processes running, 1/3 restarts: worker 1 exited with code 3");
}

TEST(RunViewTest, SummaryComparesChecksums) {
  RunView view = TwoRanks();
  EXPECT_EQ(RenderSummary(view, 1), "");  // nobody finished
  for (RankView& r : view.ranks) {
    r.finished = true;
    r.step = 200;
    r.first_loss = 2.5;
    r.loss = 0.125;
    r.checksum = "abcd";
  }
  for (int64_t step = 20; step <= 200; step += 20) RecordLoss(view.ranks[0], step, 25.0 / step);
  EXPECT_EQ(RenderSummary(view, 1),
            "summary (attempt 1):\n"
            "  loss curve [w0]: step 20 1.25, step 40 0.625, step 60 0.4167, step 80 0.3125, step 120 0.2083, "
            "step 140 0.1786, step 160 0.1562, step 200 0.125\n"
            "  [w0] rank 0  steps 200  loss 2.5 -> 0.125  checksum abcd\n"
            "  [w1] rank 1  steps 200  loss 2.5 -> 0.125  checksum abcd\n"
            "checksums identical: yes\n");
  view.ranks[1].checksum = "abce";
  EXPECT_NE(RenderSummary(view, 1).find("checksums identical: no"), std::string::npos);
  view.ranks[1].checksum = "abcd";
  view.ranks[1].finished = false;
  EXPECT_NE(RenderSummary(view, 1).find("[w1] rank 1  no final line\nchecksums identical: no"), std::string::npos);
}

}  // namespace
}  // namespace ringleader::local
