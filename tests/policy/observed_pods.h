#pragma once
// The worker pods a policy test observes: ObservedPod values as ObservePod would read them
// from the pods of job "demo" (no cluster, no JSON).

#include <string>
#include <vector>

#include "ringleader/policy/observed_pod.h"

namespace ringleader::controller::testing {

// Worker `rank` of `attempt` in `phase`; ready when Running, bound to node-0 unless Pending.
inline ObservedPod Pod(int rank, const std::string& phase, int attempt = 0) {
  ObservedPod p;
  p.name = "demo-worker-" + std::to_string(rank);
  p.rank = rank;
  p.attempt = attempt;
  p.phase = phase;
  p.ready = phase == "Running";
  p.node_name = phase == "Pending" ? "" : "node-0";
  return p;
}

// Workers 0..n-1, all in `phase`.
inline std::vector<ObservedPod> Pods(int n, const std::string& phase, int attempt = 0) {
  std::vector<ObservedPod> pods;
  for (int r = 0; r < n; ++r) pods.push_back(Pod(r, phase, attempt));
  return pods;
}

// Marks `pod` as a worker that exited with `exit_code` (kubelet's `reason`, e.g. "Error",
// "OOMKilled"; "" for none).
inline void Exited(ObservedPod& pod, int exit_code, const std::string& reason = "") {
  pod.phase = "Failed";
  pod.exit_code = exit_code;
  pod.reason = reason;
}

}  // namespace ringleader::controller::testing
