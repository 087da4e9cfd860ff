#pragma once
// What allreduce_bench's repeats measured, and the questions the report asks of it: busbw of a
// column at a size in each repeat, its median [min max], the ratio of one column to the best of
// its peers (of the medians, and each repeat's own), and whatever makes the run untrustworthy.
// Read-only once built; not thread-safe to build.

#include <map>
#include <string>
#include <vector>

#include "collective_harness.h"
#include "options.h"
#include "runs.h"

namespace ringleader::allreduce_bench {

using harness::Spread;

// A column of the table: one Ringleader backend or one Open MPI variant.
struct Column {
  std::string name;
  bool mpi = false;
  runtime::Backend backend = runtime::Backend::kShm;  // Ringleader columns
  int algorithm = 0;                                  // MPI columns: 0 = default decision
  bool tcp = false;                                   // MPI columns: TCP transport only
  size_t min_bytes = 4;                               // smallest size it measures
};

// Every repeat runs every column once (allreduce_bench.cc's driver fills this).
struct Measurements {
  std::map<std::string, std::vector<Run>> runs;  // column -> one Run per repeat
  std::vector<Sample> mpi_divide;                // the division pass alone (MPIDIVIDE)
  std::vector<std::string> loads;                // loadavg at each repeat's start
};

// Ratio of one column's busbw to the best of its peers at one size.
struct Ratio {
  double of_medians = 0;
  double peer_median = 0;
  std::string peer;
  Spread per_repeat;  // each repeat's ratio, taken within that repeat
};

class Results {
 public:
  Results(const Measurements& measurements, int ranks) : m_(measurements), ranks_(ranks) {}

  int ranks() const { return ranks_; }
  const Measurements& measurements() const { return m_; }
  bool Has(const std::string& column) const { return m_.runs.count(column) > 0; }
  // The runs of `column`, one per repeat; none for a column that did not run.
  const std::vector<Run>& RunsOf(const std::string& column) const;

  // busbw of `column` at `bytes` in each repeat, -1 where a repeat has no exact sample.
  std::vector<double> BusBwPerRepeat(const std::string& column, size_t bytes) const;
  Spread SpreadAt(const std::string& column, size_t bytes) const;
  Ratio RatioAt(const std::string& ours, const std::vector<std::string>& peers, size_t bytes) const;

 private:
  const Measurements& m_;
  int ranks_;
};

// Everything that makes the run untrustworthy (a process that failed, an inexact result, a
// size without a result); non-empty -> correctness=FAIL.
std::vector<std::string> CollectFailures(const Options& opt, const std::vector<Column>& columns,
                                         const Results& results);

}  // namespace ringleader::allreduce_bench
