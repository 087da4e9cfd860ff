#include "report.h"

#include <cstdio>

namespace ringleader::allreduce_bench {
namespace {

using harness::HumanBytes;
using harness::SpreadOf;

constexpr size_t k64m = 64u << 20;

// Column names the report compares: the first --backends entry against every MPI column.
struct Peers {
  std::string cpu_column;
  std::vector<std::string> mpi_columns, mpi_shm_columns;
  bool tcp_vs_mpi_tcp = false;
};

Peers PeersOf(const Options& opt, const std::vector<Column>& columns, const Results& results) {
  Peers p;
  for (const auto& col : columns) {
    if (col.mpi) p.mpi_columns.push_back(col.name);
    if (col.mpi && !col.tcp) p.mpi_shm_columns.push_back(col.name);
  }
  p.cpu_column = opt.backends.empty() ? "" : opt.backends.front();
  p.tcp_vs_mpi_tcp = results.Has("mpi-tcp") && results.Has("tcp");
  return p;
}

// The smallest ratio at >= 64 KiB (0 bytes: none).
struct MinRatio {
  Ratio ratio;
  size_t bytes = 0;
  void Offer(const Ratio& r, size_t at) {
    if (r.of_medians > 0 && at >= (64u << 10) && (bytes == 0 || r.of_medians < ratio.of_medians)) {
      ratio = r;
      bytes = at;
    }
  }
};

void PrintTableHeader(const Options& opt, const std::vector<Column>& columns, const Peers& peers) {
  std::printf("#\n# %-8s", "size");
  for (const auto& col : columns) {
    std::printf(" | %-11s %9s %7s %15s %2s", col.name.c_str(), "time(us)", "busbw", "[min    max]", "ok");
  }
  if (!peers.mpi_columns.empty() && !peers.cpu_column.empty()) {
    std::printf(" | %s/best-mpi [range]", peers.cpu_column.c_str());
  }
  if (peers.tcp_vs_mpi_tcp) std::printf(" | tcp/mpi-tcp [range]");
  std::printf("\n#          (median over %d repeat(s) of time per call; busbw = bytes/time*2(n-1)/n, "
              "GB/s, median [min max])\n",
              opt.repeat);
}

// One column's cell of the row of `bytes` (and its --dat field).
void PrintCell(const Column& col, size_t bytes, const Results& results, FILE* dat) {
  const int n = results.ranks();
  const Spread bw = results.SpreadAt(col.name, bytes);
  bool any_failed = false;
  for (const Run& run : results.RunsOf(col.name)) {
    const Sample* s = FindSample(run.samples, bytes, /*only_ok=*/false);
    any_failed = any_failed || (s != nullptr && !s->ok);
  }
  if (bw.n == 0) {
    std::printf(" | %-11s %9s %7s %15s %2s", "", "-", "-", "-", any_failed ? "NO" : "-");
    if (dat) std::fprintf(dat, " NaN");
    return;
  }
  char range[32];
  std::snprintf(range, sizeof(range), "[%.3f %.3f]", bw.min, bw.max);
  const double seconds = harness::SecondsAtBusBw(bytes, bw.median, n);
  std::printf(" | %-11s %9.1f %7.3f %15s %2s", "", n > 1 ? seconds * 1e6 : 0.0, bw.median, range,
              any_failed ? "NO" : "ok");
  if (dat) std::fprintf(dat, " %.6g", bw.median);
}

// The table (and the --dat file); returns the smallest ratios at >= 64 KiB.
std::pair<MinRatio, MinRatio> PrintTable(const Options& opt, const std::vector<Column>& columns,
                                         const Results& results, const Peers& peers) {
  PrintTableHeader(opt, columns, peers);
  FILE* dat = opt.dat.empty() ? nullptr : std::fopen(opt.dat.c_str(), "w");
  if (dat) {
    std::fprintf(dat, "# bytes");
    for (const auto& col : columns) std::fprintf(dat, " %s", col.name.c_str());
    std::fprintf(dat, " mpi-best\n");
  }
  MinRatio min_ratio, min_tcp_ratio;
  for (size_t bytes : harness::SizeSweep(opt.min_bytes, opt.max_bytes)) {
    std::printf("  %-8s", HumanBytes(bytes).c_str());
    if (dat) std::fprintf(dat, "%zu", bytes);
    for (const auto& col : columns) PrintCell(col, bytes, results, dat);
    const Ratio r = results.RatioAt(peers.cpu_column, peers.mpi_columns, bytes);
    if (!peers.mpi_columns.empty() && !peers.cpu_column.empty()) {
      std::printf(" | %5.2f [%.2f %.2f]", r.of_medians, r.per_repeat.min, r.per_repeat.max);
    }
    if (dat) std::fprintf(dat, " %.6g\n", r.peer_median);
    min_ratio.Offer(r, bytes);
    if (peers.tcp_vs_mpi_tcp) {
      const Ratio t = results.RatioAt("tcp", {"mpi-tcp"}, bytes);
      std::printf(" | %5.2f [%.2f %.2f]", t.of_medians, t.per_repeat.min, t.per_repeat.max);
      min_tcp_ratio.Offer(t, bytes);
    }
    std::printf("\n");
  }
  if (dat) std::fclose(dat);
  return {min_ratio, min_tcp_ratio};
}

// One column's --stats line: per call, summed over ranks, median over repeats.
void PrintColumnStats(const Column& col, const std::vector<size_t>& sizes, const Results& results) {
  const int n = results.ranks();
  std::printf("# stats %s:", col.name.c_str());
  for (size_t bytes : sizes) {
    std::vector<std::vector<double>> per_counter(kNumCounters);
    std::vector<double> wait_share;
    for (const Run& run : results.RunsOf(col.name)) {
      const Sample* s = FindSample(run.samples, bytes);
      if (s == nullptr || s->counters.size() < kNumCounters) continue;
      for (int k = 0; k < kNumCounters; ++k) per_counter[k].push_back(s->counters[k]);
      if (s->seconds > 0) wait_share.push_back(s->counters[kBarrierWaitNs] / (s->seconds * 1e9 * n));
    }
    if (per_counter[0].empty()) continue;
    auto med = [&](int k) { return SpreadOf(per_counter[k]).median; };
    std::printf("\n#   %-7s csw %8.1f icsw %7.1f flt %8.1f", HumanBytes(bytes).c_str(),
                med(kVoluntarySwitches), med(kInvoluntarySwitches), med(kMinorFaults));
    if (col.backend == runtime::Backend::kShm && !col.mpi) {
      std::printf(" | wait %4.0f%% sleep %7.1f wake %6.1f spin %6.1f bar %6.1f",
                  100 * SpreadOf(wait_share).median, med(kSleeps), med(kWakes), med(kSpinExits),
                  med(kBarriers));
    }
  }
  std::printf("\n");
}

void PrintStats(const Options& opt, const std::vector<Column>& columns, const Results& results) {
  std::printf("#\n# per-call counters (all ranks together; median over repeats): csw = voluntary "
              "context switches, icsw = involuntary, flt = minor faults; shm: wait = share of "
              "rank time in barriers, sleep = futex waits, wake = FUTEX_WAKE calls, spin = "
              "barriers left while spinning, bar = barriers\n");
  const std::vector<size_t> sizes = harness::SizeSweep(opt.min_bytes, opt.max_bytes);
  for (const auto& col : columns) PrintColumnStats(col, sizes, results);
}

// The `#` notes after the table; returns the division pass's share of the best MPI variant's
// time at 64 MiB (-1 when not measured).
double PrintNotes(const Options& opt, const Results& results, const Peers& peers) {
  const int n = results.ranks();
  std::printf("#\n");
  for (const auto& c : opt.backends) {
    for (const Run& run : results.RunsOf(c)) {
      if (!run.backend.empty() && run.backend != c) {
        std::printf("# --backend %s resolved to %s\n", c.c_str(), run.backend.c_str());
        break;
      }
    }
  }
  if (opt.mpi) {
    std::string best_alg = "none";
    double best = 0;
    for (const auto& c : peers.mpi_shm_columns) {
      const Spread s = results.SpreadAt(c, k64m);
      if (c.rfind("mpi-alg", 0) == 0 && s.n > 0 && s.median > best) {
        best = s.median;
        best_alg = c.substr(7);
      }
    }
    std::printf("# best tuned Open MPI algorithm at 64MiB: coll_tuned_allreduce_algorithm %s\n",
                best_alg.c_str());
  }
  std::vector<double> divide_seconds;
  for (const Sample& s : results.measurements().mpi_divide) {
    if (s.bytes == k64m) divide_seconds.push_back(s.seconds);
  }
  const Ratio at64 = results.RatioAt(peers.cpu_column, peers.mpi_columns, k64m);
  double divide_share = -1;
  if (!divide_seconds.empty() && at64.peer_median > 0) {
    const double divide = SpreadOf(divide_seconds).median;
    const double best_mpi_seconds = static_cast<double>(k64m) * 2.0 * (n - 1) / n / (at64.peer_median * 1e9);
    divide_share = divide / best_mpi_seconds;
    std::printf(
        "# mpi average = MPI_SUM + a division pass; that pass alone takes %.0f us at 64MiB, "
        "%.1f%% of the best MPI variant's time\n",
        divide * 1e6, 100 * divide_share);
  }
  std::string load_range;
  for (const auto& l : results.measurements().loads) load_range += (load_range.empty() ? "" : "; ") + l;
  std::printf("# loadavg at each repeat's start: %s\n", load_range.c_str());
  return divide_share;
}

std::string RangeText(const Spread& s) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "(per-repeat %.2f..%.2f)", s.min, s.max);
  return std::string(buf);
}

// The RESULT lines of each backend at 64 MiB, against memcpy and the best MPI variant.
void PrintBackendResults(const Options& opt, const Results& results, const Peers& peers,
                         double memcpy_bw) {
  const int n = results.ranks();
  for (const auto& c : opt.backends) {
    const Spread s = results.SpreadAt(c, k64m);
    if (s.n == 0) continue;
    std::printf("RESULT busbw_%s_64MiB_%dranks=%.3f (min %.3f, max %.3f)\n", c.c_str(), n, s.median,
                s.min, s.max);
    std::printf("RESULT algbw_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, harness::AlgBwFromBusBw(s.median, n));
    std::printf("RESULT busbw_vs_memcpy_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, s.median / memcpy_bw);
    const Ratio r = results.RatioAt(c, peers.mpi_columns, k64m);
    if (r.of_medians > 0) {
      std::printf("RESULT busbw_ratio_%s_vs_mpi_64MiB_%dranks=%.2f %s\n", c.c_str(), n, r.of_medians,
                  RangeText(r.per_repeat).c_str());
    }
  }
  if (peers.tcp_vs_mpi_tcp) {
    const Ratio t = results.RatioAt("tcp", {"mpi-tcp"}, k64m);
    if (t.of_medians > 0) {
      std::printf("RESULT busbw_mpi_tcp_64MiB_%dranks=%.3f\n", n, t.peer_median);
      std::printf("RESULT busbw_ratio_tcp_vs_mpi_tcp_64MiB_%dranks=%.2f %s\n", n, t.of_medians,
                  RangeText(t.per_repeat).c_str());
    }
  }
}

// The name is for the path `--backend auto` takes here: the bench's ranks share one host
// and publish no GPUs, so CreateCommunicator's rule picks shm (or what an auto column reported).
void PrintAutoResult(const Results& results, double memcpy_bw) {
  const std::string auto_column = results.Has("auto") ? "auto" : (results.Has("shm") ? "shm" : "");
  if (const Spread s = auto_column.empty() ? Spread{} : results.SpreadAt(auto_column, k64m); s.n > 0) {
    std::string resolved = auto_column;
    for (const Run& run : results.RunsOf(auto_column)) {
      if (!run.backend.empty()) resolved = run.backend;
    }
    std::printf("RESULT busbw_vs_memcpy_64MiB_%dranks=%.3f (--backend auto: %s)\n", results.ranks(),
                s.median / memcpy_bw, resolved.c_str());
  }
}

}  // namespace

int PrintReport(const Options& opt, const std::vector<Column>& columns, const Results& results,
                double memcpy_bw) {
  const int n = results.ranks();
  const std::vector<std::string> failures = CollectFailures(opt, columns, results);
  const Peers peers = PeersOf(opt, columns, results);
  const auto [min_ratio, min_tcp_ratio] = PrintTable(opt, columns, results, peers);
  if (opt.stats) PrintStats(opt, columns, results);
  const double divide_share = PrintNotes(opt, results, peers);
  PrintBackendResults(opt, results, peers, memcpy_bw);
  PrintAutoResult(results, memcpy_bw);
  const Ratio at64 = results.RatioAt(peers.cpu_column, peers.mpi_columns, k64m);
  if (at64.peer_median > 0) {
    std::printf("RESULT busbw_best_mpi_64MiB_%dranks=%.3f (%s)\n", n, at64.peer_median, at64.peer.c_str());
  }
  if (divide_share >= 0) std::printf("RESULT mpi_divide_share_64MiB_%dranks=%.3f\n", n, divide_share);
  if (min_ratio.bytes > 0) {
    std::printf("RESULT min_busbw_ratio_%s_vs_mpi_ge64KiB_%dranks=%.2f (at %s, %s) %s\n",
                peers.cpu_column.c_str(), n, min_ratio.ratio.of_medians,
                HumanBytes(min_ratio.bytes).c_str(), min_ratio.ratio.peer.c_str(),
                RangeText(min_ratio.ratio.per_repeat).c_str());
  }
  if (min_tcp_ratio.bytes > 0) {
    std::printf("RESULT min_busbw_ratio_tcp_vs_mpi_tcp_ge64KiB_%dranks=%.2f (at %s) %s\n", n,
                min_tcp_ratio.ratio.of_medians, HumanBytes(min_tcp_ratio.bytes).c_str(),
                RangeText(min_tcp_ratio.ratio.per_repeat).c_str());
  }
  std::printf("RESULT repeats=%d busy_loops=%d\n", opt.repeat, opt.busy_loops);
  std::printf("RESULT memcpy_64MiB_GBps=%.2f\n", memcpy_bw);
  return harness::PrintCorrectness(failures);
}

}  // namespace ringleader::allreduce_bench
