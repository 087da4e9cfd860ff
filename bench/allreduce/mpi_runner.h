#pragma once
// Open MPI's columns of allreduce_bench: `mpirun --oversubscribe -np N` of this binary in
// --mpi-child mode, whose ranks time MPI_Allreduce with the harness's MeasureAllReduce and
// print "MPIRESULT <sample>" lines. MPI has no average: the child times MPI_SUM followed by a
// division pass, as a user of MPI_Allreduce would write it, and (the default-decision run)
// measures that pass alone ("MPIDIVIDE") so its share of the time can be reported.

#include <string>
#include <vector>

#include "options.h"
#include "runs.h"

namespace ringleader::allreduce_bench {

// The --mpi-child[-divide] process: one MPI rank. Returns the exit code (2 without MPI).
int RunMpiChild(const Options& opt, bool measure_divide);

// One mpirun of `self`. algorithm 0 = Open MPI's default decision (that run also measures the
// division pass into `divide`). `tcp`: Open MPI's point-to-point over its TCP transport only
// (ob1 + btl tcp,self), the path it would take between hosts, for comparison with the TCP ring.
// mpirun's stderr goes to a file that is shown only when the run fails.
Run RunMpi(const Options& opt, const std::string& self, int algorithm, bool tcp, size_t min_bytes,
           std::vector<Sample>* divide);

}  // namespace ringleader::allreduce_bench
