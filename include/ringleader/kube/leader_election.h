#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection:
// - A candidate tries every retry_period to create the Lease or take it over once
//   renewTime + leaseDurationSeconds has passed (on the candidate's clock, measured from
//   when it last saw the record change, like client-go, so clock skew between candidates
//   does not matter).
// - The leader renews every retry_period; if it cannot renew within renew_deadline it
//   stops leading (on_stopped_leading) and Run() returns: the operator then exits.
//   Leadership is a matter of time, not of the renew loop's progress: IsLeader() turns false
//   exactly renew_deadline after the start of the last successful renewal, and a watchdog
//   thread runs on_stopped_leading then even while a renewal is still blocked. Each renewal
//   runs under a ScopedRequestDeadline (client.h) set to that instant, so with HttpClient a
//   hung API server cannot hold Run() in a request (30 s timeout, retries) past it either.
//   A standby takes over only lease_duration after it saw the last renewal, which is later.
// - Stopping (the stop token) while leading releases the Lease (holderIdentity cleared,
//   leaseDurationSeconds=1) so a successor takes over at once.
// Conflicts (409) are the normal outcome of a race and are retried.
//
// Thread-safety: IsLeader/CurrentLeader may be called from any thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "ringleader/common/status.h"
#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name = "ringleader-operator";
  std::string identity;  // unique per process (hostname + pid/uid)
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
  bool release_on_cancel = true;
  // Runs on the election thread: it must return promptly (start informers and controllers,
  // do not block), or renewals stall and leadership is lost.
  std::function<void()> on_started_leading;
  // Called once if on_started_leading was: on the election thread, or on its watchdog thread
  // when renew_deadline passes while a renewal is blocked. Must not wait for Run()/Stop().
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;  // observed holder changes
};

class LeaderElector {
 public:
  LeaderElector(Client& client, LeaderElectionConfig config);
  ~LeaderElector();  // Stop()s the background thread if Start() was used

  // Blocks: acquires, leads until the lease is lost or `stop` is requested. Returns OK when
  // stopped, kAborted when leadership was lost. Checks the config first (kInvalidArgument).
  Status Run(std::stop_token stop);
  // Run() on a background thread; Stop() requests stop and joins.
  void Start();
  void Stop();

  // True while leading and less than renew_deadline has passed since the last renewal began.
  bool IsLeader() const;
  std::string CurrentLeader() const;

 private:
  bool TryAcquireOrRenew();
  void Release();
  void SetObservedHolder(const std::string& holder);
  Clock::time_point RenewUntil() const;
  // Moves the end of leadership to `until`; false if the watchdog has already stepped down.
  bool ExtendLeadership(Clock::time_point until);
  // Ends leadership once (on_stopped_leading); later calls do nothing.
  void StepDown(bool lost);
  void WatchRenewDeadline(std::stop_token stop);

  Client& client_;
  LeaderElectionConfig config_;
  std::mutex transition_mu_;  // orders ExtendLeadership against StepDown
  std::atomic<bool> leading_{false};
  std::atomic<Clock::rep> renew_until_{0};  // steady-clock ticks; leadership ends then
  mutable std::mutex mu_;
  std::string observed_holder_;
  std::string observed_record_;  // serialized spec as last seen
  Clock::time_point observed_at_{};
  std::jthread thread_;
};

}  // namespace ringleader::kube
