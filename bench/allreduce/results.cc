#include "results.h"

#include <algorithm>

namespace ringleader::allreduce_bench {

const std::vector<Run>& Results::RunsOf(const std::string& column) const {
  static const std::vector<Run> kNone;
  auto it = m_.runs.find(column);
  return it == m_.runs.end() ? kNone : it->second;
}

std::vector<double> Results::BusBwPerRepeat(const std::string& column, size_t bytes) const {
  const std::vector<Run>& runs = RunsOf(column);
  std::vector<double> out(runs.size(), -1.0);
  for (size_t rep = 0; rep < runs.size(); ++rep) {
    if (const Sample* s = FindSample(runs[rep].samples, bytes)) {
      out[rep] = harness::BusBwGBps(bytes, s->seconds, ranks_);
    }
  }
  return out;
}

Spread Results::SpreadAt(const std::string& column, size_t bytes) const {
  std::vector<double> v;
  for (double bw : BusBwPerRepeat(column, bytes)) {
    if (bw >= 0) v.push_back(bw);
  }
  return harness::SpreadOf(v);
}

Ratio Results::RatioAt(const std::string& ours, const std::vector<std::string>& peers,
                       size_t bytes) const {
  Ratio r;
  const Spread mine = SpreadAt(ours, bytes);
  for (const auto& p : peers) {
    const Spread theirs = SpreadAt(p, bytes);
    if (theirs.n > 0 && theirs.median > r.peer_median) {
      r.peer_median = theirs.median;
      r.peer = p;
    }
  }
  if (mine.n > 0 && r.peer_median > 0) r.of_medians = mine.median / r.peer_median;
  std::vector<double> each;
  const std::vector<double> my_bw = BusBwPerRepeat(ours, bytes);
  for (size_t rep = 0; rep < my_bw.size(); ++rep) {
    double best = 0;
    for (const auto& p : peers) {
      const std::vector<double> bw = BusBwPerRepeat(p, bytes);
      if (rep < bw.size()) best = std::max(best, bw[rep]);
    }
    if (my_bw[rep] >= 0 && best > 0) each.push_back(my_bw[rep] / best);
  }
  r.per_repeat = harness::SpreadOf(each);
  return r;
}

std::vector<std::string> CollectFailures(const Options& opt, const std::vector<Column>& columns,
                                         const Results& results) {
  std::vector<std::string> failures;
  const std::vector<size_t> sizes = harness::SizeSweep(opt.min_bytes, opt.max_bytes);
  for (const auto& col : columns) {
    const std::vector<Run>& runs = results.RunsOf(col.name);
    for (size_t rep = 0; rep < runs.size(); ++rep) {
      const Run& run = runs[rep];
      const std::string where = col.name + (opt.repeat > 1 ? " (repeat " + std::to_string(rep + 1) + ")" : "");
      if (!run.error.empty()) failures.push_back(where + ": " + run.error);
      std::vector<size_t> missing;
      for (size_t bytes : sizes) {
        const Sample* s = FindSample(run.samples, bytes, /*only_ok=*/false);
        if (s == nullptr && bytes >= col.min_bytes) missing.push_back(bytes);
        if (s != nullptr && !s->ok) {
          failures.push_back(where + ": no exact result at " + harness::HumanBytes(bytes));
        }
      }
      if (!missing.empty()) {
        std::string what = where + ": no result at " + harness::HumanBytes(missing.front());
        if (missing.size() > 1) what += " and " + std::to_string(missing.size() - 1) + " larger sizes";
        failures.push_back(what);
      }
    }
  }
  return failures;
}

}  // namespace ringleader::allreduce_bench
