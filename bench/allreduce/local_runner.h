#pragma once
// A Ringleader backend's column of allreduce_bench: opt.ranks fork()ed local processes that
// meet over an inherited 127.0.0.1:0 store socket, each timing every size with the harness's
// MeasureAllReduce; rank 0 reports the samples through a pipe. Not thread-safe (it forks).

#include "options.h"
#include "runs.h"

namespace ringleader::allreduce_bench {

// Runs one backend's ranks to completion. --fail-rank R: rank R exits 3 after the first size.
Run RunRingleader(const Options& opt, runtime::Backend backend);

}  // namespace ringleader::allreduce_bench
