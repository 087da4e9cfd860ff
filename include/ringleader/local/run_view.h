#pragma once
// What `ringleader run` shows: a plain snapshot of the local run (phase, attempt, per-worker
// progress; a worker is one "Pod", whose output may interleave several processes when its
// command is a launcher), and pure renderers from that snapshot to text, so the live terminal view, the
// plain line output and the end-of-run summary are all testable without a terminal.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ringleader/api/trainingjob.h"

namespace ringleader::local {

struct WorkerView {
  int worker = 0;  // the Pod it stands for (RINGLEADER_WORKER_RANK)
  bool running = false;
  std::optional<int> exit_code;  // last exit of this attempt; 128+S when killed by signal S
  int64_t step = -1;             // -1: no progress line seen yet in this attempt
  int64_t total_steps = 0;
  double loss = 0;
  std::optional<double> first_loss;
  double samples_per_second = 0;
  std::string checksum;  // from the final line
  bool finished = false;  // a final line was seen
  std::string last_line;  // last non-progress output line, for programs without progress
  // The latest "resumed from step=<s>" line of this attempt (a restart that found a checkpoint).
  std::optional<int64_t> resumed_from_step;
  // (step, loss) of the progress lines, thinned by RecordLoss to at most kMaxLossHistory.
  std::vector<std::pair<int64_t, double>> loss_history;
  int64_t loss_lines = 0;   // progress lines seen
  int64_t loss_stride = 1;  // every loss_stride-th line goes into loss_history
};

inline constexpr size_t kMaxLossHistory = 512;

// Records (step, loss) of one progress line. When the history is full every second entry is
// dropped and the sampling stride doubles, so it keeps an evenly spaced sample of the whole
// run in bounded memory.
void RecordLoss(WorkerView& worker, int64_t step, double loss);

struct RunView {
  std::string job_name;
  api::JobPhase phase = api::JobPhase::kPending;
  int64_t attempt = 0;
  int64_t restarts = 0;
  int64_t backoff_limit = 0;
  int ready = 0;  // workers of this attempt currently running
  std::vector<WorkerView> workers;
  std::string message;  // why the run is in its phase
  double elapsed_seconds = 0;
  std::string run_dir;
};

// "[w0]".
std::string WorkerPrefix(const WorkerView& worker);

// "[#########.........]  45%": `width` cells between the brackets.
std::string ProgressBar(double fraction, int width);

// The live block redrawn on a terminal: header (job, phase, ready n/m, attempt, restarts,
// elapsed), a progress bar when every worker knows total_steps, one line per worker. Every
// line is cut to `width` columns; the text ends with a newline.
std::string RenderStatusView(const RunView& view, int width);

// One line for a phase change, e.g. "phase Running: attempt 1, 4/4 workers running, ...".
std::string FormatPhaseLine(const RunView& view);

// End-of-run summary: worker 0's loss curve (up to 8 points), per worker the step it resumed
// from (if it did), the first and final loss and the checksum, then "checksums identical:
// yes|no". Empty when no worker printed a final line.
std::string RenderSummary(const RunView& view);

}  // namespace ringleader::local
