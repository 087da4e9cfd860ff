#pragma once
// The nccl-tests-style harness (after nccl-tests' common.cu) shared by the all-reduce benches
// (bench/allreduce: CPU backends vs Open MPI, and --gpu) and the collective tests
// (tests/runtime): the size sweep, the timing loops, algbw/busbw, median/min/max over repeats,
// byte sizes as text, the ranks' rendezvous on 127.0.0.1 and the closing correctness line.
// The input pattern and its exact check are in rank_pattern.h.
//
// Contract: bandwidths are GB/s (1e9 bytes). algbw = bytes / time; busbw = algbw * 2(n-1)/n, the
// bytes each rank's link carries in a ring all-reduce, so busbw of different rank counts compare
// with each other and with a link's speed (nccl-tests' definition). The timing loops call the
// collective only through the callables given; every rank must call them the same number of
// times in the same order, since the agreement callables are collectives themselves.
// Pure functions and templates; nothing here keeps state, so any thread may use them.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rank_pattern.h"
#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"

namespace ringleader::harness {

// ---- sizes and bandwidth ----------------------------------------------------------------------

// min_bytes (at least 4), x4, ... up to max_bytes.
std::vector<size_t> SizeSweep(size_t min_bytes, size_t max_bytes);

// 2(n-1)/n: busbw / algbw of an all-reduce over n ranks.
double AllReduceBusFactor(int ranks);
double AlgBwGBps(size_t bytes, double seconds);
double BusBwGBps(size_t bytes, double seconds, int ranks);
// The inverses, for a busbw that is a median over repeats.
double AlgBwFromBusBw(double busbw, int ranks);
double SecondsAtBusBw(size_t bytes, double busbw, int ranks);

// "64KiB", "4MiB", "16B".
std::string HumanBytes(size_t bytes);
// The inverse for command lines: "4096", "256K", "64M", "1G", or "16B", "64KiB", "4MiB" as
// HumanBytes writes them (powers of 1024); nullopt for anything else (no number, a fraction,
// another unit, trailing text, a count that overflows).
std::optional<size_t> ParseByteCount(const std::string& text);
// ParseByteCount for a command-line flag's value; on failure prints "PROGRAM: FLAG: 'VALUE' is not a
// byte count ..." and exits 2 (a typo must not become a silent 0).
size_t ByteCountFlagOrExit(const char* program, const std::string& flag, const std::string& value);

// ---- repeats ----------------------------------------------------------------------------------

// Median (mean of the middle two for an even count) and range of a set of values; n = 0 and all
// zero for none.
struct Spread {
  double median = 0, min = 0, max = 0;
  int n = 0;
};
Spread SpreadOf(std::vector<double> values);

// ---- timing loops -----------------------------------------------------------------------------

// One measurement of one size: seconds per call, whether the result was exact, and per-call
// counters summed over ranks (empty when none were read).
struct Sample {
  size_t bytes = 0;
  double seconds = 0;
  bool ok = false;
  std::vector<double> counters;
};

// nccl-tests' loop for a fp32 average all-reduce of `bytes`: one warm-up call, an iteration
// count agreed through `agree_max` (so every rank runs the same number, ~target_seconds in
// all), the timed loop (seconds = the slowest rank's), then a check of one more call on fresh
// input against ExpectedValue. `all_reduce(std::vector<float>&)` returns false on an error,
// which ends the loop; `read_counters()` is sampled around the timed loop and `agree_sum`
// sums the per-call deltas over ranks.
template <typename AllReduce, typename AgreeMax, typename AgreeSum, typename ReadCounters>
Sample MeasureAllReduce(size_t bytes, int rank, int ranks, double target_seconds,
                        AllReduce all_reduce, AgreeMax agree_max, AgreeSum agree_sum,
                        ReadCounters read_counters) {
  using Clock = std::chrono::steady_clock;
  Sample s;
  s.bytes = bytes;
  std::vector<float> buf(bytes / sizeof(float));
  FillInput(buf.data(), buf.size(), DataType::kFloat32, rank, ranks);
  auto t0 = Clock::now();
  bool ok = all_reduce(buf);
  double warm = agree_max(std::chrono::duration<double>(Clock::now() - t0).count());
  const int iters = static_cast<int>(std::clamp(target_seconds / std::max(warm, 1e-7), 2.0, 2000.0));
  const std::vector<double> before = read_counters();
  t0 = Clock::now();
  for (int i = 0; i < iters && ok; ++i) ok = all_reduce(buf);
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> delta = read_counters();
  for (size_t i = 0; i < delta.size(); ++i) delta[i] = (delta[i] - before[i]) / iters;
  s.seconds = agree_max(elapsed) / iters;
  s.counters = agree_sum(delta);
  FillInput(buf.data(), buf.size(), DataType::kFloat32, rank, ranks);
  ok = ok && all_reduce(buf);
  const bool exact = ok && CheckResult(buf.data(), ranks, buf.size(), DataType::kFloat32,
                                       ReduceOp::kAverage).empty();
  s.ok = agree_max(exact ? 0.0 : 1.0) == 0.0;
  return s;
}

// Host wall time per call, for calls that end with the synchronisation their caller waits for.
struct CallTimes {
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
};

// Times each of `iters` calls of `body()` (returning Status) after `warmups` untimed ones; the
// first error ends it.
template <typename Body>
StatusOr<CallTimes> TimeEachCall(Body body, int warmups, int iters) {
  for (int i = 0; i < warmups; ++i) RETURN_IF_ERROR(body());
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(body());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1) + 0.5)]; };
  return CallTimes{at(0.5), at(0.1), at(0.9)};
}

// ---- ranks and results ------------------------------------------------------------------------

// Rendezvous options of one of `world_size` ranks on this host: the store on 127.0.0.1:`port`,
// served by rank 0 on the inherited listening socket `store_fd`.
runtime::RendezvousOptions LocalRankOptions(int rank, int world_size, int port, int store_fd,
                                            std::chrono::milliseconds timeout);

// Prints the last line of a bench, `RESULT correctness=ok` or `RESULT correctness=FAIL (<the
// failures, "; "-separated>)`, and returns the exit code (0 / 1).
int PrintCorrectness(const std::vector<std::string>& failures);

}  // namespace ringleader::harness
