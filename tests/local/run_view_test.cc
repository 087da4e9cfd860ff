#include "ringleader/local/run_view.h"

#include <gtest/gtest.h>

namespace ringleader::local {
namespace {

RunView TwoWorkers() {
  RunView view;
  view.job_name = "mlp";
  view.phase = api::JobPhase::kRunning;
  view.attempt = 1;
  view.restarts = 1;
  view.backoff_limit = 3;
  view.ready = 2;
  view.elapsed_seconds = 12.34;
  for (int w = 0; w < 2; ++w) {
    WorkerView worker;
    worker.worker = w;
    worker.running = true;
    worker.step = 50 + 50 * w;
    worker.total_steps = 200;
    worker.loss = 1.25;
    view.workers.push_back(worker);
  }
  return view;
}

// Every worker printed its final line: step 200, loss first_loss -> 0.125, checksum abcd.
void FinishAll(RunView* view, double first_loss) {
  for (WorkerView& w : view->workers) {
    w.finished = true;
    w.step = 200;
    w.first_loss = first_loss;
    w.loss = 0.125;
    w.checksum = "abcd";
  }
}

TEST(RunViewTest, ProgressBar) {
  EXPECT_EQ(ProgressBar(0.0, 10), "[..........]   0%");
  EXPECT_EQ(ProgressBar(0.5, 10), "[#####.....]  50%");
  EXPECT_EQ(ProgressBar(1.0, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(2.0, 4), "[####] 100%");  // clamped
}

TEST(RunViewTest, WorkerPrefix) {
  WorkerView w;
  w.worker = 2;
  EXPECT_EQ(WorkerPrefix(w), "[w2]");
}

TEST(RunViewTest, StatusViewShowsPhaseReadyRestartsAndSlowestWorkerProgress) {
  const std::string text = RenderStatusView(TwoWorkers(), 120);
  EXPECT_EQ(text,
            "mlp  Running  ready 2/2  attempt 1  restarts 1/3  12.3s\n"
            "  " + ProgressBar(0.25, 50) + "  step 50/200\n"
            "  [w0] running  step 50/200  loss 1.25\n"
            "  [w1] running  step 100/200  loss 1.25\n");
}

TEST(RunViewTest, StatusViewWithoutTotalStepsHasNoBarAndShowsLastLine) {
  RunView view = TwoWorkers();
  view.workers[0].total_steps = 0;
  view.workers[1].step = -1;
  view.workers[1].running = false;
  view.workers[1].exit_code = 3;
  view.workers[1].last_line = "boom";
  const std::string text = RenderStatusView(view, 120);
  EXPECT_EQ(text.find('#'), std::string::npos) << text;
  EXPECT_NE(text.find("[w1] exit 3  | boom"), std::string::npos) << text;
}

TEST(RunViewTest, StatusViewCutsLinesToWidth) {
  const std::string text = RenderStatusView(TwoWorkers(), 20);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    EXPECT_LE(nl - start, 20u) << text;
  }
}

TEST(RunViewTest, RecordLossKeepsAnEvenBoundedSample) {
  WorkerView rank;
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
  RunView view = TwoWorkers();
  view.message = "worker 1 exited with code 3";
  EXPECT_EQ(FormatPhaseLine(view),
            "phase Running: attempt 1, 2/2 workers running, 1/3 restarts: worker 1 exited with code 3");
}

TEST(RunViewTest, SummaryComparesChecksums) {
  RunView view = TwoWorkers();
  EXPECT_EQ(RenderSummary(view), "");  // nobody finished
  FinishAll(&view, 2.5);
  for (int64_t step = 20; step <= 200; step += 20) RecordLoss(view.workers[0], step, 25.0 / step);
  EXPECT_EQ(RenderSummary(view),
            "summary (attempt 1):\n"
            "  loss curve [w0]: step 20 1.25, step 40 0.625, step 60 0.4167, step 80 0.3125, step 120 0.2083, "
            "step 140 0.1786, step 160 0.1562, step 200 0.125\n"
            "  [w0]  steps 200  loss 2.5 -> 0.125  checksum abcd\n"
            "  [w1]  steps 200  loss 2.5 -> 0.125  checksum abcd\n"
            "checksums identical: yes\n");
  view.workers[1].checksum = "abce";
  EXPECT_NE(RenderSummary(view).find("checksums identical: no"), std::string::npos);
  view.workers[1].checksum = "abcd";
  view.workers[1].finished = false;
  EXPECT_NE(RenderSummary(view).find("[w1]  no final line\nchecksums identical: no"), std::string::npos);
}

// A worker whose trainer found a checkpoint after a restart says so in the live view and the
// summary, so a resumed run is visible.
TEST(RunViewTest, ShowsTheStepAWorkerResumedFrom) {
  RunView view = TwoWorkers();
  view.workers[1].resumed_from_step = 40;
  EXPECT_NE(RenderStatusView(view, 120).find("[w1] running  step 100/200  loss 1.25  resumed from 40"),
            std::string::npos)
      << RenderStatusView(view, 120);
  FinishAll(&view, 0.5);
  const std::string summary = RenderSummary(view);
  EXPECT_NE(summary.find("  [w0]  steps 200  loss 0.5 -> 0.125  checksum abcd\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("  [w1]  resumed from step 40  steps 200  loss 0.5 -> 0.125  checksum abcd\n"),
            std::string::npos)
      << summary;
}

}  // namespace
}  // namespace ringleader::local
