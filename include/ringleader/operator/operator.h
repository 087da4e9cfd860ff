#pragma once
// The ringleader-operator process: flags, logging, the Kubernetes client, informers, the
// TrainingJob controller, the event recorder, leader election and the metrics/health
// endpoint, wired together. main() only parses flags and calls RunOperator.
//
// Lifecycle: the metrics/health endpoint starts first (a standby replica is healthy and
// ready); on winning the Lease, informers start, and once their caches are synced the
// controller's workers start. Stop (SIGTERM/SIGINT) → workers finish their reconciles, the
// Lease is released, exit 0. Losing the Lease → exit 1 (Kubernetes restarts the container and
// it rejoins as a candidate: a process that lost the lease must not keep writing).

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::controller {

struct OperatorOptions {
  std::string kubeconfig;               // "" : $KUBECONFIG, else in-cluster, else ~/.kube/config
  std::string context;                  // kubeconfig context; "" : current-context
  std::vector<std::string> namespaces;  // empty: all namespaces
  int workers = 4;
  // A Builtin gang of N workers costs about 2N writes to start (create, then ungate) and 3N to
  // restart (delete too): the burst lets a 512-worker gang start without waiting on the bucket
  // (and a restart of one wait about 0.4 s), while the refill keeps sustained load at 100/s.
  double qps = 100;
  int burst = 1500;
  bool leader_elect = true;
  std::string leader_election_namespace;  // "" : $POD_NAMESPACE, the service account's, or "default"
  std::string leader_election_id = "ringleader-operator";
  std::string metrics_addr = "0.0.0.0:8080";  // "" or "0": no endpoint
  std::string log_format = "text";            // text | json
  std::string log_level = "info";
  std::chrono::milliseconds restart_backoff{std::chrono::seconds(10)};
  std::chrono::milliseconds restart_backoff_cap{std::chrono::minutes(5)};
  std::chrono::milliseconds admission_retry{std::chrono::seconds(5)};
  // --stuck-pod-margin: how long past its grace period a pod on a lost node is force-deleted.
  std::chrono::milliseconds stuck_pod_margin{std::chrono::seconds(15)};
  std::chrono::milliseconds backfill_window{std::chrono::minutes(10)};  // ReconcilerOptions
  // Pod and Service events requeue their job this much later, so a burst of them costs one
  // reconcile (kube::ControllerOptions::owned_event_batch).
  std::chrono::milliseconds pod_event_batch{std::chrono::milliseconds(250)};
  bool help = false;
};

// Parses flags (--flag=value and --flag value). Errors name the flag and the problem.
StatusOr<OperatorOptions> ParseOperatorFlags(const std::vector<std::string>& args);
std::string OperatorUsage();

// "10s", "500ms", "2m", "1h", or a bare number of seconds.
StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);

// Runs until `stop` is requested (returns 0), leadership is lost (1), or start-up fails (2,
// the reason logged).
int RunOperator(const OperatorOptions& options, std::stop_token stop);

// Sets spdlog's default logger to text or JSON lines on stderr at `level`.
Status ConfigureLogging(const std::string& format, const std::string& level);

}  // namespace ringleader::controller
