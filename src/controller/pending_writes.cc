#include "ringleader/controller/pending_writes.h"

namespace ringleader::controller {

void PendingWrites::DropIfEmptyLocked(std::map<std::string, Entry>::iterator it) {
  if (it->second.status_replaced_rv.empty() && it->second.gates_removed.empty()) entries_.erase(it);
}

void PendingWrites::StatusWritten(const std::string& job_key, const std::string& replaced_rv, Clock::time_point now) {
  if (replaced_rv.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[job_key];
  entry.status_replaced_rv = replaced_rv;
  entry.status_written_at = now;
}

bool PendingWrites::StatusNotYetSeen(const std::string& job_key, const std::string& cached_rv, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(job_key);
  if (it == entries_.end() || it->second.status_replaced_rv.empty()) return false;
  Entry& entry = it->second;
  if (entry.status_replaced_rv == cached_rv && now - entry.status_written_at < timeout_) return true;
  entry.status_replaced_rv.clear();
  DropIfEmptyLocked(it);
  return false;
}

void PendingWrites::GateRemoved(const std::string& job_key, const std::string& pod_uid, Clock::time_point now) {
  if (pod_uid.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  entries_[job_key].gates_removed[pod_uid] = now;
}

std::set<std::string> PendingWrites::GateRemovalsNotYetSeen(const std::string& job_key,
                                                            const std::set<std::string>& gated_uids,
                                                            Clock::time_point now) {
  std::set<std::string> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(job_key);
  if (it == entries_.end()) return out;
  auto& removed = it->second.gates_removed;
  for (auto r = removed.begin(); r != removed.end();) {
    if (gated_uids.count(r->first) && now - r->second < timeout_) {
      out.insert(r->first);
      ++r;
    } else {
      r = removed.erase(r);
    }
  }
  DropIfEmptyLocked(it);
  return out;
}

void PendingWrites::Forget(const std::string& job_key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(job_key);
}

size_t PendingWrites::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace ringleader::controller
