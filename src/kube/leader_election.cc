#include "ringleader/kube/leader_election.h"

#include <spdlog/spdlog.h>

#include "internal.h"

namespace ringleader::kube {
namespace {

std::string MicroTimeNow() {
  return internal::FormatTimestamp(std::chrono::system_clock::now(), /*microseconds=*/true);
}

using internal::SleepUnlessStopped;

int64_t Seconds(Duration d) {
  return std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

}  // namespace

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config)
    : client_(client), config_(std::move(config)) {}

LeaderElector::~LeaderElector() { Stop(); }

std::string LeaderElector::CurrentLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_holder_;
}

void LeaderElector::SetObservedHolder(const std::string& holder) {
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = holder != observed_holder_;
    observed_holder_ = holder;
  }
  if (changed && !holder.empty() && config_.on_new_leader) config_.on_new_leader(holder);
}

bool LeaderElector::TryAcquireOrRenew() {
  const GroupVersionResource leases = LeasesResource();
  const std::string now = MicroTimeNow();
  // leaseDurationSeconds is whole seconds on the wire; tests use sub-second durations, so we
  // judge expiry with our own lease_duration (all candidates share the config).
  Json desired_spec = {{"holderIdentity", config_.identity},
                       {"leaseDurationSeconds", Seconds(config_.lease_duration)},
                       {"acquireTime", now},
                       {"renewTime", now},
                       {"leaseTransitions", 0}};
  ApiResult<Json> current = client_.Get(leases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (!current.IsNotFound()) {
      spdlog::warn("msg=\"cannot read lease\" lease={}/{} error=\"{}\"", config_.lease_namespace,
                   config_.lease_name, current.status().ToString());
      return false;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                  {"spec", desired_spec}};
    ApiResult<Json> created = client_.Create(leases, config_.lease_namespace, lease);
    if (!created.ok()) return false;  // lost the race to create it
    std::lock_guard<std::mutex> lock(mu_);
    observed_record_ = created->value("spec", Json::object()).dump();
    observed_at_ = Clock::now();
    observed_holder_ = config_.identity;
    return true;
  }
  Json spec = current->value("spec", Json::object());
  std::string holder = spec.is_object() ? spec.value("holderIdentity", "") : "";
  Clock::time_point observed_at;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string record = spec.dump();
    if (record != observed_record_) {
      observed_record_ = record;
      observed_at_ = Clock::now();
    }
    observed_at = observed_at_;
  }
  SetObservedHolder(holder);
  bool held_by_other = !holder.empty() && holder != config_.identity;
  if (held_by_other && observed_at + config_.lease_duration > Clock::now()) return false;

  Json updated = current.value();
  int64_t transitions = spec.value("leaseTransitions", int64_t{0});
  if (holder == config_.identity) {
    desired_spec["acquireTime"] = spec.value("acquireTime", now);
  } else {
    ++transitions;
  }
  desired_spec["leaseTransitions"] = transitions;
  updated["spec"] = desired_spec;
  ApiResult<Json> written = client_.Update(leases, config_.lease_namespace, updated);
  if (!written.ok()) {
    if (!written.IsConflict()) {
      spdlog::warn("msg=\"cannot update lease\" lease={}/{} error=\"{}\"", config_.lease_namespace,
                   config_.lease_name, written.status().ToString());
    }
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  observed_record_ = written->value("spec", Json::object()).dump();
  observed_at_ = Clock::now();
  observed_holder_ = config_.identity;
  return true;
}

void LeaderElector::Release() {
  const GroupVersionResource leases = LeasesResource();
  ApiResult<Json> current = client_.Get(leases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) return;
  Json updated = current.value();
  if (updated["spec"].value("holderIdentity", "") != config_.identity) return;
  std::string now = MicroTimeNow();
  updated["spec"]["holderIdentity"] = "";
  updated["spec"]["leaseDurationSeconds"] = 1;
  updated["spec"]["renewTime"] = now;
  updated["spec"]["acquireTime"] = now;
  ApiResult<Json> written = client_.Update(leases, config_.lease_namespace, updated);
  if (!written.ok()) {
    spdlog::warn("msg=\"cannot release lease\" lease={}/{} error=\"{}\"", config_.lease_namespace,
                 config_.lease_name, written.status().ToString());
  }
}

Status LeaderElector::Run(std::stop_token stop) {
  if (config_.identity.empty()) return InvalidArgumentError("leader election: identity is empty");
  if (config_.lease_name.empty() || config_.lease_namespace.empty()) {
    return InvalidArgumentError("leader election: lease name and namespace are required");
  }
  if (config_.lease_duration <= config_.renew_deadline) {
    return InvalidArgumentError("leader election: lease_duration must exceed renew_deadline");
  }
  if (config_.renew_deadline <= config_.retry_period) {
    return InvalidArgumentError("leader election: renew_deadline must exceed retry_period");
  }
  // Acquire.
  while (!TryAcquireOrRenew()) {
    if (!SleepUnlessStopped(stop, Jitter(config_.retry_period, 1.2))) return Status::Ok();
  }
  leading_ = true;
  spdlog::info("msg=\"became leader\" lease={}/{} identity={}", config_.lease_namespace,
               config_.lease_name, config_.identity);
  if (config_.on_started_leading) config_.on_started_leading();

  // Renew until we fail for renew_deadline or are stopped.
  Status result = Status::Ok();
  Clock::time_point last_renew = Clock::now();
  while (true) {
    if (!SleepUnlessStopped(stop, config_.retry_period)) {
      if (config_.release_on_cancel) Release();
      break;
    }
    if (TryAcquireOrRenew()) {
      last_renew = Clock::now();
      continue;
    }
    if (Clock::now() - last_renew >= config_.renew_deadline) {
      spdlog::error("msg=\"lost leadership\" lease={}/{} identity={}", config_.lease_namespace,
                    config_.lease_name, config_.identity);
      result = AbortedError("leader election lost: could not renew lease " +
                            config_.lease_namespace + "/" + config_.lease_name);
      break;
    }
  }
  leading_ = false;
  if (config_.on_stopped_leading) config_.on_stopped_leading();
  return result;
}

void LeaderElector::Start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) {
    Status status = Run(stop);
    if (!status.ok()) spdlog::warn("msg=\"leader election ended\" error=\"{}\"", status.ToString());
  });
}

void LeaderElector::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

}  // namespace ringleader::kube
