#pragma once
// What one variant of allreduce_bench (a Ringleader backend's forked ranks, or one mpirun)
// reports back to the driver: rank 0 writes one line per size, "<bytes> <seconds> <ok>
// <counters...>", and the driver parses them into Samples. Also the per-call counters a rank
// reads around its timed loop.

#include <string>
#include <vector>

#include "collective_harness.h"
#include "ringleader/runtime/collectives/shm_communicator.h"

namespace ringleader::allreduce_bench {

using harness::Sample;

// Per-call counters a rank reports for the timed loop (summed over ranks by the harness).
enum Counter {
  kVoluntarySwitches,    // getrusage ru_nvcsw: the rank blocked (futex, poll, ...)
  kInvoluntarySwitches,  // ru_nivcsw: the scheduler took the CPU away
  kMinorFaults,          // ru_minflt
  kBarrierWaitNs,        // shm only: ShmStats::barrier_wait_ns
  kSleeps,               // shm only: futex waits
  kWakes,                // shm only: FUTEX_WAKE calls
  kSpinExits,            // shm only: barriers left while spinning
  kBarriers,             // shm only
  kNumCounters
};

// This process's counters now (rusage), plus the shm communicator's when there is one.
std::vector<double> ReadCounters(const runtime::ShmCommunicator* shm);

// What one variant (a Ringleader backend, or one mpirun) produced.
struct Run {
  std::vector<Sample> samples;
  std::string backend;  // the backend a Ringleader run resolved to (auto -> shm/tcp)
  std::string error;    // empty when every process exited 0
};

// "<bytes> <seconds> <ok> <counters...>\n", the line rank 0 reports a sample with.
std::string FormatSample(const Sample& s);

// Parses the sample lines of `text` (those starting with `prefix`, when given).
std::vector<Sample> ParseSamples(const std::string& text, const char* prefix);

// The sample of `bytes`, or nullptr. With `only_ok`, a failed sample counts as none (for the
// ratios and RESULT lines: its time means nothing).
const Sample* FindSample(const std::vector<Sample>& v, size_t bytes, bool only_ok = true);

// "exited with 3" / "killed by signal 9" for a wait status; empty for exit 0.
std::string DescribeExit(int status);

// Everything readable from `fd` until end of file.
std::string ReadAll(int fd);

}  // namespace ringleader::allreduce_bench
