// The mpi backend under `mpirun --oversubscribe -np N`: every dtype x count x op, exact
// results. gtest-free (MPI owns the process layout); exits non-zero on any mismatch.

#include <cstdio>

#include "collective_cases.h"
#include "ringleader/runtime/collectives/mpi_communicator.h"

int main() {
  using namespace ringleader::runtime;
  auto comm = MpiCommunicator::Create();
  if (!comm.ok()) {
    std::fprintf(stderr, "MPI init failed: %s\n", comm.status().ToString().c_str());
    return 1;
  }
  int failures = 0;
  int checks = 0;
  for (DataType type : testing::AllDataTypes()) {
    for (size_t count : testing::CollectiveCounts()) {
      for (ReduceOp op : {ReduceOp::kAverage, ReduceOp::kSum}) {
        auto buffer = testing::MakeInput((*comm)->rank(), (*comm)->size(), count, type);
        ringleader::Status status = (*comm)->AllReduce(buffer.data(), count, type, op);
        std::string error = status.ok() ? testing::CheckResult(buffer.data(), (*comm)->size(), count, type, op)
                                        : status.ToString();
        ++checks;
        if (!error.empty()) {
          ++failures;
          std::fprintf(stderr, "rank %d: FAIL %s\n", (*comm)->rank(), error.c_str());
        }
      }
    }
  }
  if ((*comm)->rank() == 0) {
    std::printf("mpi_collectives_test: %d ranks, %d checks, %d failures\n", (*comm)->size(), checks, failures);
  }
  return failures == 0 ? 0 : 1;
}
