#include "ringleader/kube/workqueue.h"

namespace ringleader::kube {

WorkQueue::WorkQueue(std::unique_ptr<RateLimiter> limiter)
    : limiter_(limiter ? std::move(limiter) : DefaultControllerRateLimiter()) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (dirty_.count(key)) return;  // already waiting: collapse
  dirty_.insert(key);
  if (processing_.count(key)) return;  // re-queued by Done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  if (delay <= Duration{0}) {
    AddLocked(key);
    return;
  }
  delayed_.push(Delayed{Clock::now() + delay, delayed_seq_++, key});
  // A sleeping Get() may need to wake earlier than it planned.
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, limiter_->When(key)); }

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return limiter_->NumRequeues(key); }

void WorkQueue::PromoteDueLocked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.top().ready_at <= now) {
    std::string key = delayed_.top().key;
    delayed_.pop();
    AddLocked(key);
  }
}

std::optional<std::string> WorkQueue::Get() { return GetUntil(Clock::time_point::max()); }

std::optional<std::string> WorkQueue::GetUntil(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    Clock::time_point now = Clock::now();
    PromoteDueLocked(now);
    if (!queue_.empty()) break;
    if (now >= deadline) return std::nullopt;
    Clock::time_point wake = deadline;
    if (!delayed_.empty() && delayed_.top().ready_at < wake) wake = delayed_.top().ready_at;
    if (wake == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, wake);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  // Another worker may be waiting on a delayed item that became due meanwhile.
  if (!queue_.empty() || !delayed_.empty()) cv_.notify_one();
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t WorkQueue::DelayedLen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return delayed_.size();
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

}  // namespace ringleader::kube
