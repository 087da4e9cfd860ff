// allreduce_bench: nccl-tests-style all-reduce benchmark of Ringleader's CPU backends against
// Open MPI's MPI_Allreduce (default decision, every coll_tuned algorithm, and the default over
// TCP) on the same machine in the same run, with memcpy bandwidth of one 64 MiB buffer as the
// ceiling.
//
//   allreduce_bench --ranks 4 [--backends shm,tcp] [--min-bytes 4] [--max-bytes 256M]
//                   [--repeat 1] [--busy-loops 0] [--stats]
//                   [--mpi on|off] [--mpi-algorithms 1,2,3,4,5,6] [--mpi-tcp on|off]
//                   [--dat busbw.dat] [--target-seconds 0.15] [--shm-chunk 256K]
//                   [--shm-spin-us US (-1: adaptive)] [--shm-single-copy on|off] [--shm-single-copy-chunk BYTES]
//                   [--shm-reduce-by-last-arrival auto|on|off] [--tcp-spin-us US (-1: adaptive)]
//                   [--fail-rank R]
//   allreduce_bench --gpu      (GPU kernels and NCCL path, see gpu_bench.cc)
//
// It starts its N ranks itself: fork()ed local processes for Ringleader backends (rendezvous
// over an inherited 127.0.0.1:0 socket), `mpirun --oversubscribe -np N` of itself for MPI.
// algbw = bytes / time, busbw = algbw * 2(n-1)/n. Every size is checked for exact results
// after timing. The last lines are machine-readable `RESULT name=value`; the last one is
// `RESULT correctness=ok`, or `RESULT correctness=FAIL (<what>)` with a non-zero exit when a
// result was wrong, a rank or mpirun exited non-zero, or a size has no result.
// --fail-rank R (for the smoke test): rank R of every Ringleader run exits 3 after the first
// size, to show that such a failure is reported.
//
// --repeat N runs every column N times, interleaved: each repeat runs every column once (in an
// order rotated by one per repeat), so Ringleader and Open MPI meet the same machine load.
// Tables show the median over repeats with [min max]; RESULT lines use medians, and a ratio
// also gives its per-repeat range (each repeat's ratio is taken within that repeat).
// --busy-loops K starts K busy-looping processes for the whole measurement (competing load
// that every column meets). --stats adds per-call counters: context switches and minor page
// faults summed over ranks (getrusage around the timed loop), and for shm the ShmStats
// (share of rank time spent in barriers, futex sleeps, wakes).
//
// MPI has no average: the MPI variants time MPI_SUM followed by a division pass over the
// buffer, as a user of MPI_Allreduce would write it (Ringleader fuses the division into its
// last reduction step). The bench measures that pass alone and prints its share of the MPI
// time at 64 MiB (`RESULT mpi_divide_share_...`) so it can be seen not to decide the ratio.

// Files: options (flags), local_runner (forked Ringleader ranks), mpi_runner (mpirun and the
// --mpi-child ranks), runs (what ranks report), machine (memcpy, busy loops, loadavg), results
// (busbw and ratios over repeats), report (table and RESULT lines); the timing loop, the input
// pattern and busbw are the shared harness's (bench/harness/collective_harness.h).

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "local_runner.h"
#include "machine.h"
#include "mpi_runner.h"
#include "options.h"
#include "report.h"
#include "results.h"
#ifdef RINGLEADER_GPU_BENCH
#include "gpu_bench.h"
#endif

namespace rl = ringleader::runtime;
using namespace ringleader::allreduce_bench;

namespace {

// The table's columns: each --backends entry, then Open MPI's default decision, every
// --mpi-algorithms variant (from 64 KiB up) and the default over TCP. False
// (after a message) for a backend the bench cannot fork.
bool MakeColumns(const Options& opt, std::vector<Column>& columns) {
  for (const auto& name : opt.backends) {
    auto backend = rl::ParseBackend(name);
    if (!backend.ok() || *backend == rl::Backend::kNccl || *backend == rl::Backend::kMpi) {
      std::fprintf(stderr, "allreduce_bench: --backends takes shm, tcp or auto\n");
      return false;
    }
    columns.push_back({name, false, *backend, 0, false, opt.min_bytes});
  }
  const size_t search_min = std::max(opt.min_bytes, opt.mpi_search_min_bytes);
  if (opt.mpi) {
    columns.push_back({"mpi-default", true, rl::Backend::kMpi, 0, false, opt.min_bytes});
    for (int k : opt.mpi_algorithms) {
      columns.push_back({"mpi-alg" + std::to_string(k), true, rl::Backend::kMpi, k, false, search_min});
    }
    if (opt.mpi_tcp) columns.push_back({"mpi-tcp", true, rl::Backend::kMpi, 0, true, opt.min_bytes});
  }
  return true;
}

// Every repeat runs every column once; the order rotates so no column always runs first, and
// Ringleader and Open MPI meet the same machine load.
Measurements RunRepeats(const Options& opt, const std::string& self, const std::vector<Column>& columns) {
  Measurements m;
  BusyLoops busy(opt.busy_loops);
  for (int rep = 0; rep < opt.repeat; ++rep) {
    m.loads.push_back(LoadAverage());
    std::printf("# repeat %d/%d: loadavg %s\n", rep + 1, opt.repeat, m.loads.back().c_str());
    std::fflush(stdout);
    for (size_t i = 0; i < columns.size(); ++i) {
      const Column& col = columns[(i + rep) % columns.size()];
      if (!col.mpi) {
        m.runs[col.name].push_back(RunRingleader(opt, col.backend));
        continue;
      }
      const bool divide = col.algorithm == 0 && !col.tcp;
      std::vector<Sample> divide_samples;
      m.runs[col.name].push_back(
          RunMpi(opt, self, col.algorithm, col.tcp, col.min_bytes, divide ? &divide_samples : nullptr));
      m.mpi_divide.insert(m.mpi_divide.end(), divide_samples.begin(), divide_samples.end());
    }
  }
  return m;
}

int RunTable(Options opt) {
  if (opt.ranks < 1 || opt.repeat < 1 || opt.busy_loops < 0) {
    std::fprintf(stderr, "allreduce_bench: --ranks and --repeat must be >= 1, --busy-loops >= 0\n");
    return 2;
  }
#ifndef RINGLEADER_HAVE_MPI
  opt.mpi = false;
#endif
  char self[4096] = {0};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;
  std::vector<Column> columns;
  if (!MakeColumns(opt, columns)) return 2;

  std::printf("# allreduce_bench: %d ranks (local processes), fp32, average; %ld cores online; "
              "%d repeat(s), %d busy loop(s)\n",
              opt.ranks, sysconf(_SC_NPROCESSORS_ONLN), opt.repeat, opt.busy_loops);
  const double memcpy_bw = MemcpyBandwidth();
  std::printf("# memcpy 64MiB: %.2f GB/s (before the busy loops start)\n", memcpy_bw);
  std::fflush(stdout);
  const Measurements measurements = RunRepeats(opt, self, columns);
  return PrintReport(opt, columns, Results(measurements, opt.ranks), memcpy_bw);
}

}  // namespace

int main(int argc, char** argv) {
  const ParsedArgs parsed = ParseArgs(argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const Invocation& inv = parsed.invocation;
  switch (inv.mode) {
    case Mode::kGpu:
#ifdef RINGLEADER_GPU_BENCH
      return RunGpuBench();
#else
      std::printf("SKIP: built without CUDA\n");
      return 0;
#endif
    case Mode::kMpiChild:
      return RunMpiChild(inv.options, /*measure_divide=*/false);
    case Mode::kMpiChildDivide:
      return RunMpiChild(inv.options, /*measure_divide=*/true);
    case Mode::kTable:
      break;
  }
  return RunTable(inv.options);
}
