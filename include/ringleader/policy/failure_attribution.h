#pragma once
// Which failed worker caused a gang's failure: the one rule the operator (TrainingJob state
// machine, from pod statuses) and local mode (supervisor, from reaped processes) both apply,
// so that the same failure gets the same rank, exit code and restart decision in both.
//
// The rule: the worker that finished first is the root cause. When one rank crashes (say
// OOMKilled, 137) its peers exit on the broken collective; judging by the lowest rank would
// blame a peer. Among workers that finished at the same time (the kubelet's finishedAt has
// second resolution; local mode reaps exits that arrive together), one that did not exit with
// kExitPeerFailed (175, "a peer failed first") names the cause. Then the lowest rank.
// Unknown finish times sort after every known one.
//
// Thread-safety: a pure function.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringleader::controller {

struct FailedWorker {
  int64_t rank = -1;
  std::optional<int> exit_code;  // unknown when the worker never reported one
  std::string finished_at;       // RFC 3339 UTC as the kubelet writes it; empty when unknown
};

// The index into `failed` of the root cause; nullopt when `failed` is empty.
std::optional<size_t> PickRootCause(const std::vector<FailedWorker>& failed);

}  // namespace ringleader::controller
