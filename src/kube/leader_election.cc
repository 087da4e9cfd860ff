#include "ringleader/kube/leader_election.h"

#include <spdlog/spdlog.h>

#include "internal.h"
#include "ringleader/common/rfc3339.h"

namespace ringleader::kube {
namespace {

std::string MicroTimeNow() {
  return FormatRfc3339(std::chrono::system_clock::now(), Rfc3339Precision::kMicroseconds);
}

using internal::IntField;
using internal::ObjectField;
using internal::SleepUnlessStopped;
using internal::StringField;

// The Lease's spec, or {} when it has none (or a spec that is not an object).
Json SpecOf(const Json& lease) {
  const Json* spec = ObjectField(lease, "spec");
  return spec ? *spec : Json::object();
}

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
  StatusOr<Json> current = client_.Get(leases, config_.lease_namespace, config_.lease_name);
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
    StatusOr<Json> created = client_.Create(leases, config_.lease_namespace, lease);
    if (!created.ok()) return false;  // lost the race to create it
    std::lock_guard<std::mutex> lock(mu_);
    observed_record_ = SpecOf(*created).dump();
    observed_at_ = Clock::now();
    observed_holder_ = config_.identity;
    return true;
  }
  if (!current->is_object()) {
    spdlog::warn("msg=\"lease is not a JSON object\" lease={}/{}", config_.lease_namespace,
                 config_.lease_name);
    return false;
  }
  const Json spec = SpecOf(*current);
  std::string holder = StringField(spec, "holderIdentity");
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
  int64_t transitions = IntField(spec, "leaseTransitions").value_or(0);
  if (holder == config_.identity) {
    std::string acquired = StringField(spec, "acquireTime");
    desired_spec["acquireTime"] = acquired.empty() ? now : acquired;
  } else {
    ++transitions;
  }
  desired_spec["leaseTransitions"] = transitions;
  updated["spec"] = desired_spec;
  StatusOr<Json> written = client_.Update(leases, config_.lease_namespace, updated);
  if (!written.ok()) {
    if (!written.IsConflict()) {
      spdlog::warn("msg=\"cannot update lease\" lease={}/{} error=\"{}\"", config_.lease_namespace,
                   config_.lease_name, written.status().ToString());
    }
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  observed_record_ = SpecOf(*written).dump();
  observed_at_ = Clock::now();
  observed_holder_ = config_.identity;
  return true;
}

void LeaderElector::Release() {
  const GroupVersionResource leases = LeasesResource();
  StatusOr<Json> current = client_.Get(leases, config_.lease_namespace, config_.lease_name);
  if (!current.ok() || !current->is_object()) return;
  Json updated = current.value();
  if (StringField(SpecOf(updated), "holderIdentity") != config_.identity) return;
  std::string now = MicroTimeNow();
  updated["spec"]["holderIdentity"] = "";
  updated["spec"]["leaseDurationSeconds"] = 1;
  updated["spec"]["renewTime"] = now;
  updated["spec"]["acquireTime"] = now;
  StatusOr<Json> written = client_.Update(leases, config_.lease_namespace, updated);
  if (!written.ok()) {
    spdlog::warn("msg=\"cannot release lease\" lease={}/{} error=\"{}\"", config_.lease_namespace,
                 config_.lease_name, written.status().ToString());
  }
}

bool LeaderElector::IsLeader() const {
  // Derived from time, not only from the renew loop's verdict: once renew_deadline has passed
  // since the last successful renewal we are no longer leader, even while a renewal is still
  // blocked on the network.
  return leading_.load() && Clock::now().time_since_epoch().count() < renew_until_.load();
}

Clock::time_point LeaderElector::RenewUntil() const {
  return Clock::time_point(Clock::duration(renew_until_.load()));
}

bool LeaderElector::ExtendLeadership(Clock::time_point until) {
  std::lock_guard<std::mutex> lock(transition_mu_);
  if (!leading_.load()) return false;  // the watchdog stepped down meanwhile: stay down
  renew_until_ = until.time_since_epoch().count();
  return true;
}

void LeaderElector::StepDown(bool lost) {
  {
    std::lock_guard<std::mutex> lock(transition_mu_);
    if (!leading_.exchange(false)) return;
  }
  if (lost) {
    spdlog::error(
        "msg=\"lost leadership\" lease={}/{} identity={} renew_deadline_ms={}",
        config_.lease_namespace, config_.lease_name, config_.identity,
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.renew_deadline).count());
  } else {
    spdlog::info("msg=\"stopped leading\" lease={}/{} identity={}", config_.lease_namespace,
                 config_.lease_name, config_.identity);
  }
  if (config_.on_stopped_leading) config_.on_stopped_leading();
}

void LeaderElector::WatchRenewDeadline(std::stop_token stop) {
  while (true) {
    Clock::time_point until = RenewUntil();
    Clock::time_point now = Clock::now();
    if (now >= until) {
      StepDown(/*lost=*/true);
      return;
    }
    if (!SleepUnlessStopped(stop, until - now)) return;
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
  // Acquire. A renewal counts from when its attempt started, not from when the answer came
  // back: the server may have written renewTime (and a standby started its expiry clock) at
  // any moment in between.
  Clock::time_point attempt_started = Clock::now();
  while (!TryAcquireOrRenew()) {
    if (!SleepUnlessStopped(stop, Jitter(config_.retry_period, 1.2))) return Status::Ok();
    attempt_started = Clock::now();
  }
  {
    std::lock_guard<std::mutex> lock(transition_mu_);
    renew_until_ = (attempt_started + config_.renew_deadline).time_since_epoch().count();
    leading_ = true;
  }
  spdlog::info("msg=\"became leader\" lease={}/{} identity={}", config_.lease_namespace,
               config_.lease_name, config_.identity);
  if (config_.on_started_leading) config_.on_started_leading();

  // The watchdog steps down at renew_deadline even if this thread is stuck in a renewal (a
  // Client that ignores ScopedRequestDeadline, a slow callback).
  std::jthread watchdog(
      [this](std::stop_token watchdog_stop) { WatchRenewDeadline(watchdog_stop); });
  auto lost_error = [this] {
    return AbortedError(
        "leader election lost: could not renew lease " + config_.lease_namespace + "/" +
        config_.lease_name + " within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(config_.renew_deadline).count()) +
        " ms");
  };
  Status result = Status::Ok();
  bool release = false;
  while (true) {
    if (!SleepUnlessStopped(stop, config_.retry_period)) {
      release = config_.release_on_cancel && leading_.load();
      if (!leading_.load()) result = lost_error();
      break;
    }
    attempt_started = Clock::now();
    const Clock::time_point renew_until = RenewUntil();
    bool renewed = false;
    if (attempt_started < renew_until) {
      // Each renewal is bounded by what is left of the renew deadline, so a hung API server
      // cannot keep us in a request (30 s timeout, retries) past the point where we must stop.
      ScopedRequestDeadline bounded(renew_until);
      renewed = TryAcquireOrRenew();
    }
    if (renewed && ExtendLeadership(attempt_started + config_.renew_deadline)) continue;
    if (!leading_.load() || Clock::now() >= renew_until) {
      result = lost_error();
      break;
    }
  }
  watchdog.request_stop();
  watchdog.join();
  StepDown(/*lost=*/!result.ok());
  if (release) {
    // Best effort, and bounded: a successor takes over after the lease expires anyway.
    ScopedRequestDeadline bounded(Clock::now() + config_.renew_deadline);
    Release();
  }
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
