#include "ringleader/runtime/rendezvous/in_memory_store.h"

#include <algorithm>

namespace ringleader::runtime {

Status InMemoryStore::Set(const std::string& key, const std::string& value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    values_[key] = value;
  }
  cv_.notify_all();
  return Status::Ok();
}

StatusOr<std::string> InMemoryStore::Get(const std::string& key, Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = values_.end();
  bool found = cv_.wait_until(lock, deadline, [&] {
    it = values_.find(key);
    return it != values_.end() || closed_;
  });
  if (closed_) return AbortedError("store closed");
  if (!found) return DeadlineExceededError("key '" + key + "' did not appear");
  return it->second;
}

StatusOr<std::vector<bool>> InMemoryStore::Check(const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> present;
  present.reserve(keys.size());
  for (const auto& key : keys) present.push_back(values_.count(key) > 0);
  return present;
}

StatusOr<int64_t> InMemoryStore::Add(const std::string& key, int64_t delta) {
  int64_t result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string& slot = values_[key];
    int64_t current = slot.empty() ? 0 : std::stoll(slot);
    result = current + delta;
    slot = std::to_string(result);
  }
  cv_.notify_all();
  return result;
}

StatusOr<std::vector<int>> InMemoryStore::DeadRanks(Deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<int>(dead_.begin(), dead_.end());
}

void InMemoryStore::MarkDead(int rank) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    dead_.insert(rank);
  }
  cv_.notify_all();
}

void InMemoryStore::RecordGoodbye(int rank) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    goodbyes_.insert(rank);
  }
  cv_.notify_all();
}

bool InMemoryStore::WaitForGoodbyes(int count, Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  // A dead rank will never say goodbye: stop waiting for it.
  return cv_.wait_until(lock, deadline, [&] {
    return static_cast<int>(goodbyes_.size() + dead_.size()) >= count || closed_;
  });
}

void InMemoryStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace ringleader::runtime
