#include "ringleader/progress/api_progress_sink.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "ringleader/api/resources.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/kube/config.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/resource.h"

namespace ringleader::progress {

ApiProgressSink::ApiProgressSink(kube::Client& client, ApiProgressOptions options)
    : client_(client), options_(std::move(options)) {
  if (options_.in_place_restarts > 0) {
    pending_ = Figures{0, 0, 0, /*has_step=*/false};
    urgent_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

ApiProgressSink::~ApiProgressSink() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    urgent_ = urgent_ || pending_.has_value();
    cv_.notify_all();
    // The last figures matter most (the final loss): give them a bounded chance to land.
    cv_.wait_for(lock, options_.flush_timeout, [&] { return (!pending_ && !in_flight_) || disabled_; });
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void ApiProgressSink::Log(const std::string& line) {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "ringleader-worker: progress: %s\n", line.c_str());
  }
}

void ApiProgressSink::Report(const runtime::ProgressReport& report) {
  if (disabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = Figures{report.step, report.loss, report.samples_per_second};
  last_samples_per_second_ = report.samples_per_second;
  cv_.notify_all();
}

void ApiProgressSink::Finish(int64_t step, double loss, const std::string&) {
  if (disabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = Figures{step, loss, last_samples_per_second_};
  urgent_ = true;
  cv_.notify_all();
}

void ApiProgressSink::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (stopping_ || disabled_) return;
    if (!pending_) {
      cv_.wait(lock);
      continue;
    }
    auto due = last_sent_ + options_.min_interval;
    if (!urgent_ && last_sent_ != std::chrono::steady_clock::time_point{} &&
        std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    Figures figures = *pending_;
    pending_.reset();
    urgent_ = false;
    in_flight_ = true;
    lock.unlock();
    Send(figures);
    lock.lock();
    in_flight_ = false;
    last_sent_ = std::chrono::steady_clock::now();
    cv_.notify_all();
  }
}

void ApiProgressSink::Send(const Figures& figures) {
  auto now = options_.clock ? options_.clock() : std::chrono::system_clock::now();
  kube::Json progress = {{"attempt", options_.attempt}, {"inPlaceRestarts", options_.in_place_restarts}};
  if (figures.has_step) {
    // updatedAt moves only with a step: the operator reads it as when the step last advanced
    // (spec.runPolicy.progressDeadlineSeconds).
    progress["step"] = figures.step;
    progress["loss"] = figures.loss;
    progress["samplesPerSecond"] = figures.samples_per_second;
    progress["updatedAt"] = FormatRfc3339(now);
  }
  kube::Json patch = {{"status", {{"progress", std::move(progress)}}}};
  auto result = client_.Patch(kube::TrainingJobsResource(), options_.job_namespace, options_.job_name,
                              kube::PatchType::kMerge, patch, "status");
  if (result.ok()) {
    sent_++;
    return;
  }
  failed_++;
  const std::string job = options_.job_namespace + "/" + options_.job_name;
  if (result.code() == StatusCode::kPermissionDenied) {
    disabled_ = true;
    Log("not allowed to patch trainingjobs/status of " + job +
        ": bind ClusterRole ringleader-progress-reporter to this pod's ServiceAccount (see docs/runtime.md); "
        "progress reporting is off, training continues (" + result.status().message() + ")");
  } else if (result.code() == StatusCode::kNotFound) {
    disabled_ = true;
    Log("TrainingJob " + job + " not found; progress reporting is off");
  } else if (!logged_failure_) {
    logged_failure_ = true;  // one line, not one per interval: the API server may be restarting
    Log("cannot report progress of " + job + " (will keep trying): " + result.status().message());
  }
}

namespace {

// Keeps the HTTP client alive as long as the sink.
class OwningApiProgressSink final : public runtime::ProgressSink {
 public:
  OwningApiProgressSink(std::unique_ptr<kube::HttpClient> client, ApiProgressOptions options)
      : client_(std::move(client)), sink_(*client_, std::move(options)) {}
  void Report(const runtime::ProgressReport& report) override { sink_.Report(report); }
  void Finish(int64_t step, double loss, const std::string& checksum) override { sink_.Finish(step, loss, checksum); }

 private:
  std::unique_ptr<kube::HttpClient> client_;
  ApiProgressSink sink_;
};

// The value of a seconds knob when it is a positive number ("2", "0.5"); nullopt when
// unset, malformed or not positive, so the caller keeps its default.
std::optional<double> PositiveSeconds(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) return std::nullopt;
  return value;
}

}  // namespace

std::unique_ptr<runtime::ProgressSink> MakeApiProgressSinkFromEnvironment(const runtime::WorkerEnv& env) {
  const char* mode = std::getenv(kEnvProgress);
  if (mode != nullptr && std::string(mode) == "off") return nullptr;
  if (env.rank != 0 || env.job_name.empty() || env.job_namespace.empty()) return nullptr;
  StatusOr<kube::RestConfig> config = InvalidArgumentError("no credentials");
  if (const char* kubeconfig = std::getenv(kEnvProgressKubeconfig); kubeconfig != nullptr && *kubeconfig) {
    kube::KubeconfigOptions options;
    options.path = kubeconfig;
    config = kube::LoadKubeconfig(options);
  } else if (std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) {
    config = kube::LoadInClusterConfig();
  } else {
    return nullptr;  // local mode, or a pod without API access: nothing to report to
  }
  if (!config.ok()) {
    std::fprintf(stderr, "ringleader-worker: progress: no API access, not reporting: %s\n",
                 config.status().message().c_str());
    return nullptr;
  }
  config->qps = 1;  // one job's progress: a trickle by design
  config->burst = 2;
  config->user_agent = "ringleader-worker";
  kube::HttpClientOptions client_options;
  client_options.max_retries = 1;
  auto client = kube::HttpClient::Create(*config, client_options);
  if (!client.ok()) {
    std::fprintf(stderr, "ringleader-worker: progress: not reporting: %s\n", client.status().message().c_str());
    return nullptr;
  }
  ApiProgressOptions options;
  options.job_namespace = env.job_namespace;
  options.job_name = env.job_name;
  options.attempt = env.attempt;
  options.in_place_restarts = env.in_place_restarts;
  if (const std::optional<double> seconds = PositiveSeconds(std::getenv(kEnvProgressIntervalSeconds))) {
    options.min_interval = std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
  }
  return std::make_unique<OwningApiProgressSink>(std::move(*client), std::move(options));
}

}  // namespace ringleader::progress
