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
  // Due delayed keys go first: they were due before this add.
  PromoteDueLocked(Clock::now());
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  Clock::time_point now = Clock::now();
  PromoteDueLocked(now);
  if (delay <= Duration{0}) {
    AddLocked(key);
    return;
  }
  // Saturate instead of overflowing for absurd delays (RequeueAfter(Duration::max())).
  Clock::time_point ready_at =
      delay >= Clock::time_point::max() - now ? Clock::time_point::max() : now + delay;
  auto [it, inserted] = waiting_.try_emplace(key, WaitingEntry{ready_at, delayed_seq_});
  if (!inserted) {
    // One waiting entry per key, at the earliest time asked for (client-go's delaying
    // queue): a later AddAfter never postpones an earlier one, and repeated AddAfter calls
    // do not grow the queue.
    if (it->second.ready_at <= ready_at) return;
    by_time_.erase({it->second.ready_at, it->second.seq, key});
    it->second = WaitingEntry{ready_at, delayed_seq_};
  }
  by_time_.insert({ready_at, delayed_seq_, key});
  ++delayed_seq_;
  // A sleeping Get() may need to wake earlier than it planned.
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) { AddAfter(key, limiter_->When(key)); }

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return limiter_->NumRequeues(key); }

void WorkQueue::PromoteDueLocked(Clock::time_point now) {
  while (!by_time_.empty() && std::get<0>(*by_time_.begin()) <= now) {
    std::string key = std::get<2>(*by_time_.begin());
    by_time_.erase(by_time_.begin());
    waiting_.erase(key);
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
    if (!by_time_.empty() && std::get<0>(*by_time_.begin()) < wake) {
      wake = std::get<0>(*by_time_.begin());
    }
    ++waiters_;
    if (wake == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, wake);
    }
    --waiters_;
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  // Another worker may be waiting on a delayed item that became due meanwhile.
  if (!queue_.empty() || !by_time_.empty()) cv_.notify_one();
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
  PromoteDueLocked(Clock::now());
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Delayed keys that are due count as ready even before a Get() or Done() has promoted
  // them (there is no timer thread): so does the controller's depth gauge. A due key that
  // is already queued or being processed would collapse, so it is not counted twice.
  size_t ready = queue_.size();
  const Clock::time_point now = Clock::now();
  for (auto it = by_time_.begin(); it != by_time_.end() && std::get<0>(*it) <= now; ++it) {
    const std::string& key = std::get<2>(*it);
    if (!dirty_.count(key) && !processing_.count(key)) ++ready;
  }
  return ready;
}

size_t WorkQueue::DelayedLen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

size_t WorkQueue::Waiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_;
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
