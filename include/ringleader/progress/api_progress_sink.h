#pragma once
// ApiProgressSink: rank 0 of a worker gang reports training progress into its TrainingJob's
// status.progress {step, loss, samplesPerSecond, updatedAt} through the Kubernetes API, so
// `kubectl get tj -o yaml` and dashboards see how training goes without reading logs.
//
// - Never slows training: Report() stores the latest figures and returns; a background
//   thread sends them. Reports in between are coalesced (only the newest is sent).
// - Rate-limited: at most one write per `min_interval` (default 15 s), plus the final figures
//   on Finish(). With many jobs this keeps the API server's load at one small write per job
//   per interval.
// - A merge patch on the /status subresource that touches only status.progress: it never
//   fights the operator over phase or conditions (and the operator's resourceVersion-checked
//   status writes carry progress along).
// - 403 (the pod's ServiceAccount was not granted ClusterRole ringleader-progress-reporter)
//   or 404 (the job is gone) disables the sink with one log line; training goes on.
//
// Thread-safety: Report/Finish from the training thread; counters from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ringleader/kube/client.h"
#include "ringleader/runtime/app/progress_sink.h"
#include "ringleader/runtime/rendezvous/worker_env_parser.h"

namespace ringleader::progress {

struct ApiProgressOptions {
  std::string job_namespace;
  std::string job_name;
  std::chrono::milliseconds min_interval{std::chrono::seconds(15)};
  // Written with every report (status.progress.attempt, .inPlaceRestarts): the gang attempt and
  // how many times the launcher restarted the training processes in place in it. When
  // in_place_restarts > 0 the sink reports it at once, before the first step: the operator
  // counts it against backoffLimit even if the restarted processes never reach a step.
  int attempt = 0;
  int in_place_restarts = 0;
  // How long the destructor waits for the last write.
  std::chrono::milliseconds flush_timeout{std::chrono::seconds(5)};
  std::function<std::chrono::system_clock::time_point()> clock;  // nullptr: system_clock::now
  std::function<void(const std::string&)> log;                   // nullptr: stderr
};

class ApiProgressSink final : public runtime::ProgressSink {
 public:
  // `client` must outlive the sink (see MakeApiProgressSink for an owning variant).
  ApiProgressSink(kube::Client& client, ApiProgressOptions options);
  ~ApiProgressSink() override;  // sends what is pending (bounded by flush_timeout), then stops

  void Report(const runtime::ProgressReport& report) override;
  void Finish(int64_t step, double loss, const std::string& checksum_hex) override;

  uint64_t sent() const { return sent_.load(); }
  uint64_t failed() const { return failed_.load(); }
  bool disabled() const { return disabled_.load(); }

 private:
  struct Figures {
    int64_t step = 0;
    double loss = 0;
    double samples_per_second = 0;
    bool has_step = true;  // false: only the attempt and in-place restarts (sent at start)
  };
  void Loop();
  void Send(const Figures& figures);
  void Log(const std::string& line);

  kube::Client& client_;
  ApiProgressOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Figures> pending_;
  bool urgent_ = false;  // Finish(): send now, whatever the interval
  bool stopping_ = false;
  bool in_flight_ = false;
  std::chrono::steady_clock::time_point last_sent_{};
  double last_samples_per_second_ = 0;
  std::atomic<uint64_t> sent_{0}, failed_{0};
  std::atomic<bool> disabled_{false};
  bool logged_failure_ = false;
  std::thread thread_;
};

// Knobs a user may set on a worker; neither the operator nor local mode sets them, so they are
// the progress reporter's own and not part of common/worker_contract.h.
// "off" turns reporting off.
inline constexpr const char* kEnvProgress = "RINGLEADER_PROGRESS";
// A kubeconfig to report through instead of the Pod's in-cluster credentials.
inline constexpr const char* kEnvProgressKubeconfig = "RINGLEADER_PROGRESS_KUBECONFIG";
// Seconds between reports (a positive number; anything else keeps the default, 15).
inline constexpr const char* kEnvProgressIntervalSeconds = "RINGLEADER_PROGRESS_INTERVAL_SECONDS";

// The sink for this worker process, or nullptr when it should not report: not global rank 0,
// RINGLEADER_PROGRESS=off, no job name/namespace in the env, or no API credentials (not in a
// cluster and no RINGLEADER_PROGRESS_KUBECONFIG). Owns its HTTP client. The interval comes
// from RINGLEADER_PROGRESS_INTERVAL_SECONDS (default 15).
std::unique_ptr<runtime::ProgressSink> MakeApiProgressSinkFromEnvironment(const runtime::WorkerEnv& env);

}  // namespace ringleader::progress
