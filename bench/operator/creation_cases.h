#pragma once
// operator_bench's pod-creation cases, each on a fresh Cluster: gang (one big TrainingJob), jobs
// (many small ones at once), bare (the same pods from a bare client: the ceiling) and floor (a
// scripted client making only the writes any operator must: the highest reachable ratio).

#include <string>

#include "measurement.h"
#include "options.h"

namespace ringleader::bench {

// One --gang-worker TrainingJob: seconds from its create to the last pod created.
// `default_flags`: the operator as users start it.
Measurement RunGang(const Options& options, const std::string& scheduler, bool default_flags = false);

// --jobs TrainingJobs of --workers-per-job created at once: pods/s to the last pod created.
Measurement RunJobs(const Options& options, const std::string& scheduler);

// The ceiling: the operator's pods, created by a bare client with the operator's concurrency
// and rate limit, on a server in the same state (the jobs exist; no operator runs).
Measurement RunBare(const Options& options, int threads);

// The floor under any operator: a scripted client that does only what the issue requires
// before a job's last pod exists, and nothing to decide it. From `threads` threads, each job in
// turn: create the TrainingJob (the user's write, inside the interval as in the jobs case), its
// Service and its pods (gated, as BuildWorkerPod makes them), one status write and one Event.
// With `watch`, it also keeps the operator's two informers (pods compact and trimmed, jobs
// trimmed) in this process: an operator must see the pods it made and the jobs it is given.
// Its pods/s over the bare client's is the highest ratio an operator can reach on this machine.
Measurement RunFloor(const Options& options, int threads, bool watch_caches);

}  // namespace ringleader::bench
