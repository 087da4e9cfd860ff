#pragma once
// A rate-limited work queue with client-go's semantics:
// - Add() of a key already waiting does nothing (repeated adds collapse).
// - A key handed out by Get() is "processing" until Done(); adds meanwhile mark it dirty and
//   it is queued again at Done(), so one key is never processed by two workers at once.
// - AddAfter() delays an add; AddRateLimited() delays by the rate limiter's When(key);
//   Forget() resets the key's backoff; NumRequeues() reports it. A key has at most one
//   delayed entry, at the earliest time asked for: a second AddAfter with an earlier time
//   moves it forward, one with a later time is ignored (client-go's delaying queue).
// - ShutDown() wakes every blocked Get(), which then returns nullopt; adds after shutdown are
//   ignored.
// Delayed adds are kept ordered by time and promoted by Get(), Add() and Done() themselves:
// no timer thread. Len() counts due delayed keys even before they are promoted.
//
// Thread-safety: all methods are thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube {

class WorkQueue {
 public:
  explicit WorkQueue(std::unique_ptr<RateLimiter> limiter = DefaultControllerRateLimiter());
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Duration delay);
  void AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<std::string> Get();
  // Like Get() but gives up at `deadline` (nullopt; check ShuttingDown() to tell apart).
  std::optional<std::string> GetUntil(Clock::time_point deadline);
  // Must be called once for every key Get() returned.
  void Done(const std::string& key);

  // Keys ready to be handed out: queued ones plus delayed ones now due (not counting keys
  // still delayed, or processing ones).
  size_t Len() const;
  // Keys waiting in AddAfter / AddRateLimited (one entry per key).
  size_t DelayedLen() const;
  // Get()/GetUntil() callers blocked right now (tests wait on it before ShutDown()).
  size_t Waiters() const;
  void ShutDown();
  bool ShuttingDown() const;

 private:
  struct WaitingEntry {
    Clock::time_point ready_at;
    uint64_t seq;  // FIFO among equal times
  };
  void AddLocked(const std::string& key);
  void PromoteDueLocked(Clock::time_point now);

  std::unique_ptr<RateLimiter> limiter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;
  std::set<std::string> processing_;
  std::map<std::string, WaitingEntry> waiting_;  // key -> its one delayed entry
  std::set<std::tuple<Clock::time_point, uint64_t, std::string>> by_time_;  // same, by time
  uint64_t delayed_seq_ = 0;
  size_t waiters_ = 0;
  bool shutting_down_ = false;
};

}  // namespace ringleader::kube
