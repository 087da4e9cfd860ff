#include "ringleader/controller/expectations.h"

namespace ringleader::controller {

void Expectations::ExpectCreations(const std::string& job_key, const std::vector<std::string>& pod_names,
                                   Clock::time_point now) {
  if (pod_names.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[job_key];
  entry.pending.insert(pod_names.begin(), pod_names.end());
  entry.since = now;
}

void Expectations::CreationObserved(const std::string& job_key, const std::string& pod_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(job_key);
  if (it == entries_.end()) return;
  it->second.pending.erase(pod_name);
  if (it->second.pending.empty()) entries_.erase(it);
}

bool Expectations::Satisfied(const std::string& job_key, Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(job_key);
  if (it == entries_.end()) return true;
  return now - it->second.since >= timeout_;
}

size_t Expectations::Pending(const std::string& job_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(job_key);
  return it == entries_.end() ? 0 : it->second.pending.size();
}

void Expectations::Forget(const std::string& job_key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(job_key);
}

}  // namespace ringleader::controller
