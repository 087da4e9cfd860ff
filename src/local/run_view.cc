#include "ringleader/local/run_view.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace ringleader::local {

namespace {

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// Loss values span orders of magnitude; %.4g keeps four significant digits.
std::string Loss(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", value);
  return buf;
}

std::string Cut(const std::string& line, int width) {
  if (width <= 0 || static_cast<int>(line.size()) <= width) return line;
  if (width <= 3) return line.substr(0, width);
  return line.substr(0, width - 3) + "...";
}

std::string Elapsed(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds);
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else if (total >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  }
  return buf;
}

std::string WorkerState(const WorkerView& r) {
  if (r.running) return "running";
  if (!r.exit_code.has_value()) return "waiting";
  if (*r.exit_code == 0) return "done";
  return "exit " + std::to_string(*r.exit_code);
}

}  // namespace

std::string WorkerPrefix(const WorkerView& worker) { return "[w" + std::to_string(worker.worker) + "]"; }

std::string ProgressBar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  width = std::max(width, 1);
  const int filled = static_cast<int>(fraction * width + 1e-9);
  std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
  char pct[16];
  std::snprintf(pct, sizeof pct, " %3d%%", static_cast<int>(fraction * 100 + 1e-9));
  return bar + pct;
}

std::string RenderStatusView(const RunView& view, int width) {
  std::vector<std::string> lines;
  std::string header = view.job_name + "  " + api::ToString(view.phase) + "  ready " +
                       std::to_string(view.ready) + "/" + std::to_string(view.workers.size()) +
                       "  attempt " + std::to_string(view.attempt) + "  restarts " +
                       std::to_string(view.restarts) + "/" + std::to_string(view.backoff_limit) +
                       "  " + Elapsed(view.elapsed_seconds);
  lines.push_back(header);
  if (!view.message.empty()) lines.push_back("  " + view.message);

  // The bar follows the slowest worker: the gang is only as far as its last member.
  bool all_known = !view.workers.empty();
  int64_t total = 0;
  int64_t slowest = -1;
  for (const WorkerView& r : view.workers) {
    if (r.total_steps <= 0) {
      all_known = false;
      break;
    }
    total = std::max(total, r.total_steps);
    const int64_t step = std::max<int64_t>(r.step, 0);
    slowest = slowest < 0 ? step : std::min(slowest, step);
  }
  if (all_known && total > 0) {
    const int bar_width = std::clamp(width - 30, 10, 50);
    lines.push_back("  " + ProgressBar(static_cast<double>(slowest) / total, bar_width) + "  step " +
                    std::to_string(slowest) + "/" + std::to_string(total));
  }
  for (const WorkerView& r : view.workers) {
    std::string line = "  " + WorkerPrefix(r) + " " + WorkerState(r);
    if (r.step >= 0) {
      line += "  step " + std::to_string(r.step);
      if (r.total_steps > 0) line += "/" + std::to_string(r.total_steps);
      line += "  loss " + Loss(r.loss);
      if (r.samples_per_second > 0) line += "  " + Fixed(r.samples_per_second, 0) + " samples/s";
      if (r.resumed_from_step.has_value()) line += "  resumed from " + std::to_string(*r.resumed_from_step);
      if (r.finished) line += "  checksum " + r.checksum;
    } else if (!r.last_line.empty()) {
      line += "  | " + r.last_line;
    }
    lines.push_back(line);
  }
  std::string out;
  for (const std::string& line : lines) out += Cut(line, width) + "\n";
  return out;
}

std::string FormatPhaseLine(const RunView& view) {
  std::string line = std::string("phase ") + api::ToString(view.phase) + ": attempt " +
                     std::to_string(view.attempt) + ", " + std::to_string(view.ready) + "/" +
                     std::to_string(view.workers.size()) + " workers running, " +
                     std::to_string(view.restarts) + "/" + std::to_string(view.backoff_limit) +
                     " restarts";
  if (!view.message.empty()) line += ": " + view.message;
  return line;
}

void RecordLoss(WorkerView& worker, int64_t step, double loss) {
  auto& history = worker.loss_history;
  const int64_t line = worker.loss_lines++;
  if (line % worker.loss_stride != 0) return;
  if (history.size() >= kMaxLossHistory) {
    size_t kept = 0;
    for (size_t i = 0; i < history.size(); i += 2) history[kept++] = history[i];
    history.resize(kept);
    worker.loss_stride *= 2;
    if (line % worker.loss_stride != 0) return;
  }
  history.emplace_back(step, loss);
}

std::string RenderSummary(const RunView& view) {
  bool any_final = false;
  for (const WorkerView& r : view.workers) any_final = any_final || r.finished;
  if (!any_final) return "";
  std::ostringstream out;
  out << "summary (attempt " << view.attempt << "):\n";
  if (!view.workers.empty() && !view.workers[0].loss_history.empty()) {
    // The sample plus the latest value, which thinning may have skipped.
    auto history = view.workers[0].loss_history;
    if (view.workers[0].step > history.back().first) history.emplace_back(view.workers[0].step, view.workers[0].loss);
    constexpr size_t kPoints = 8;
    out << "  loss curve " << WorkerPrefix(view.workers[0]) << ":";
    const size_t n = history.size();
    size_t previous = n;
    for (size_t k = 0; k < std::min(n, kPoints); ++k) {
      // Evenly spaced indices, always including the first and the last entry.
      const size_t i = n <= kPoints ? k : k * (n - 1) / (kPoints - 1);
      if (i == previous) continue;
      previous = i;
      out << (k == 0 ? " " : ", ") << "step " << history[i].first << " " << Loss(history[i].second);
    }
    out << "\n";
  }
  bool identical = true;
  const std::string* reference = nullptr;
  for (const WorkerView& r : view.workers) {
    out << "  " << WorkerPrefix(r);
    if (r.resumed_from_step.has_value()) out << "  resumed from step " << *r.resumed_from_step;
    if (!r.finished) {
      out << "  no final line\n";
      identical = false;
      continue;
    }
    out << "  steps " << r.step << "  loss ";
    if (r.first_loss.has_value()) out << Loss(*r.first_loss) << " -> ";
    out << Loss(r.loss) << "  checksum " << r.checksum << "\n";
    if (reference == nullptr) {
      reference = &r.checksum;
    } else if (*reference != r.checksum) {
      identical = false;
    }
  }
  out << "checksums identical: " << (identical ? "yes" : "no") << "\n";
  return out.str();
}

}  // namespace ringleader::local
