#pragma once
// GPU measurements of allreduce_bench (see gpu_bench.cc). Returns the exit code.
int RunGpuBench();
