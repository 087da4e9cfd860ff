#pragma once
// PendingWrites: writes this operator made that its informer caches do not show yet, other
// than pod creations (those are Expectations).
//
// Why: a reconcile reads the caches, which lag behind our own writes, and every pod event
// requeues the job. A reconcile that runs before the cache has seen our last status write
// decides from the old status: its status write then fails with 409 (a wasted write and a
// requeue; 2190 of them when 10k pods were created) or, worse, repeats an action. One that has
// not seen a gate removal patches the same pods again. So:
// - a job whose cached resourceVersion is still the one our last status write replaced is
//   not reconciled until the cache moves on (its own update event requeues it);
// - pods whose gate we removed count as ungated until the cache agrees.
// Entries expire after `timeout`, so that a lost watch event cannot wedge a job.
//
// Thread-safety: all methods are thread-safe.

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace ringleader::controller {

class PendingWrites {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PendingWrites(Clock::duration timeout = std::chrono::seconds(30)) : timeout_(timeout) {}

  // The job's status was written over the object at `replaced_rv`.
  void StatusWritten(const std::string& job_key, const std::string& replaced_rv, Clock::time_point now = Clock::now());
  // True while the cached job (at `cached_rv`) is the one our last status write replaced.
  // Once the cache has moved on (or the entry expired), forgets the write and returns false.
  bool StatusNotYetSeen(const std::string& job_key, const std::string& cached_rv, Clock::time_point now = Clock::now());

  void GateRemoved(const std::string& job_key, const std::string& pod_uid, Clock::time_point now = Clock::now());
  // Of the pods the cache shows gated (`gated_uids`), those whose gate we removed. Removals
  // the cache now shows (or of pods it no longer has) are forgotten.
  std::set<std::string> GateRemovalsNotYetSeen(const std::string& job_key, const std::set<std::string>& gated_uids,
                                               Clock::time_point now = Clock::now());

  void Forget(const std::string& job_key);
  size_t Size() const;  // jobs with pending writes (for tests)

 private:
  struct Entry {
    std::string status_replaced_rv;  // "" : no status write pending
    Clock::time_point status_written_at;
    std::map<std::string, Clock::time_point> gates_removed;  // pod uid → when
  };
  void DropIfEmptyLocked(std::map<std::string, Entry>::iterator it);

  Clock::duration timeout_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace ringleader::controller
