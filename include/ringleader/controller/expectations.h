#pragma once
// Expectations: which pods a job's last reconcile created and the pod cache has not shown yet
// (the ReplicaSet controller's ControllerExpectations, keyed by pod name).
//
// Why: the reconcile reads pods from the informer cache, which lags behind our own writes. A
// reconcile that runs before the cache has seen the pods it just created would count them as
// missing. Deterministic pod names already make a second create harmless (AlreadyExists), but
// waiting for the cache avoids the wasted calls and a status computed from a stale view.
// Expectations are registered *before* the creates are sent (an informer event may arrive
// before the create call returns) and lowered for every create that did not happen. They
// expire after `timeout` so that a lost watch event cannot wedge a job.
//
// Thread-safety: all methods are thread-safe.

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ringleader::controller {

class Expectations {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Expectations(Clock::duration timeout = std::chrono::seconds(30)) : timeout_(timeout) {}

  void ExpectCreations(const std::string& job_key, const std::vector<std::string>& pod_names,
                       Clock::time_point now = Clock::now());
  // The cache showed the pod, or its create failed / found it already there.
  void CreationObserved(const std::string& job_key, const std::string& pod_name);
  // True when nothing is pending for the job, or what is pending is older than the timeout.
  bool Satisfied(const std::string& job_key, Clock::time_point now = Clock::now()) const;
  size_t Pending(const std::string& job_key) const;
  void Forget(const std::string& job_key);

 private:
  struct Entry {
    std::set<std::string> pending;
    Clock::time_point since;
  };
  Clock::duration timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace ringleader::controller
