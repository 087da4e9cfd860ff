#pragma once
// allreduce_bench's output after the measurements: the table (busbw median [min max] per
// column, the ratio columns), the --dat file, --stats counters, the notes and the `RESULT`
// block, whose last line is the correctness verdict.

#include <vector>

#include "options.h"
#include "results.h"

namespace ringleader::allreduce_bench {

// Prints everything; returns the exit code (1 when correctness=FAIL).
int PrintReport(const Options& opt, const std::vector<Column>& columns, const Results& results,
                double memcpy_bw);

}  // namespace ringleader::allreduce_bench
