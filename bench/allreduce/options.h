#pragma once
// allreduce_bench's command line (the flags are listed in allreduce_bench.cc's header).
// Contract: ParseArgs reads argv in order; a bad flag or a missing value prints one line to
// stderr and yields exit code 2, as the bench always did.

#include <optional>
#include <string>
#include <vector>

#include "ringleader/runtime/collectives/communicator.h"

namespace ringleader::allreduce_bench {

struct Options {
  int ranks = 4;
  std::vector<std::string> backends = {"shm", "tcp"};
  size_t min_bytes = 4;
  size_t max_bytes = 256u << 20;
  bool mpi = true;
  std::vector<int> mpi_algorithms = {1, 2, 3, 4, 5, 6};
  bool mpi_tcp = true;  // Open MPI's default decision forced onto its TCP transport
  size_t mpi_search_min_bytes = 64u << 10;
  std::string dat;
  double target_seconds = 0.15;  // time spent per size and variant, roughly
  size_t shm_chunk_bytes = runtime::CommunicatorOptions{}.shm_chunk_bytes;
  int shm_spin_us = runtime::CommunicatorOptions{}.shm_spin_us;
  int tcp_spin_us = runtime::CommunicatorOptions{}.tcp_spin_us;
  bool shm_single_copy = runtime::CommunicatorOptions{}.shm_single_copy;
  size_t shm_single_copy_chunk_bytes = runtime::CommunicatorOptions{}.shm_single_copy_chunk_bytes;
  int shm_reduce_by_last_arrival = runtime::CommunicatorOptions{}.shm_reduce_by_last_arrival;
  int repeat = 1;
  int busy_loops = 0;
  bool stats = false;
  int fail_rank = -1;  // testing: this rank exits after the first size
};

// What this process is: the table's driver, one rank under mpirun (--mpi-child[-divide]), or
// the GPU measurements (--gpu, which ends the parsing where it stands).
enum class Mode { kTable, kMpiChild, kMpiChildDivide, kGpu };

struct Invocation {
  Options options;
  Mode mode = Mode::kTable;
};

// The invocation, or the exit code of a command line that cannot run.
struct ParsedArgs {
  Invocation invocation;
  std::optional<int> exit_code;
};
ParsedArgs ParseArgs(int argc, char** argv);

}  // namespace ringleader::allreduce_bench
