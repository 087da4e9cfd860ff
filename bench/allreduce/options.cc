#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "collective_harness.h"
#include "ringleader/common/split.h"

namespace ringleader::allreduce_bench {
namespace {

size_t ParseBytes(const std::string& flag, const std::string& value) {
  return harness::ByteCountFlagOrExit("allreduce_bench", flag, value);
}

// Applies flag `a` (taking its value from `next()`); false for an unknown flag.
template <typename Next>
bool ApplyFlag(const std::string& a, Next next, Invocation& inv) {
  Options& opt = inv.options;
  if (a == "--ranks") opt.ranks = std::atoi(next().c_str());
  else if (a == "--backends") opt.backends = SplitNonEmpty(next(), ',');
  else if (a == "--min-bytes") opt.min_bytes = ParseBytes(a, next());
  else if (a == "--max-bytes") opt.max_bytes = ParseBytes(a, next());
  else if (a == "--mpi") opt.mpi = next() == "on";
  else if (a == "--mpi-tcp") opt.mpi_tcp = next() == "on";
  else if (a == "--mpi-algorithms") {
    opt.mpi_algorithms.clear();
    for (const auto& k : SplitNonEmpty(next(), ',')) opt.mpi_algorithms.push_back(std::atoi(k.c_str()));
  } else if (a == "--dat") opt.dat = next();
  else if (a == "--target-seconds") opt.target_seconds = std::atof(next().c_str());
  else if (a == "--shm-chunk") opt.shm_chunk_bytes = ParseBytes(a, next());
  else if (a == "--shm-spin-us") opt.shm_spin_us = std::atoi(next().c_str());
  else if (a == "--tcp-spin-us") opt.tcp_spin_us = std::atoi(next().c_str());
  else if (a == "--shm-single-copy") opt.shm_single_copy = next() == "on";
  else if (a == "--shm-single-copy-chunk") opt.shm_single_copy_chunk_bytes = ParseBytes(a, next());
  else if (a == "--shm-reduce-by-last-arrival") {
    const std::string v = next();
    opt.shm_reduce_by_last_arrival = v == "on" ? 1 : v == "off" ? 0 : -1;
  }
  else if (a == "--repeat") opt.repeat = std::atoi(next().c_str());
  else if (a == "--busy-loops") opt.busy_loops = std::atoi(next().c_str());
  else if (a == "--stats") opt.stats = true;
  else if (a == "--fail-rank") opt.fail_rank = std::atoi(next().c_str());
  else if (a == "--mpi-child") {
    if (inv.mode != Mode::kMpiChildDivide) inv.mode = Mode::kMpiChild;
  }
  else if (a == "--mpi-child-divide") inv.mode = Mode::kMpiChildDivide;
  else return false;
  return true;
}

}  // namespace

ParsedArgs ParseArgs(int argc, char** argv) {
  ParsedArgs parsed;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "allreduce_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--gpu") {
      parsed.invocation.mode = Mode::kGpu;
      return parsed;
    }
    if (!ApplyFlag(a, next, parsed.invocation)) {
      std::fprintf(stderr, "allreduce_bench: unknown flag %s\n", a.c_str());
      parsed.exit_code = 2;
      return parsed;
    }
  }
  return parsed;
}

}  // namespace ringleader::allreduce_bench
