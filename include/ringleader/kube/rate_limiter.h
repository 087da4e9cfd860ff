#pragma once
// Rate limiting, after client-go's flowcontrol and workqueue rate limiters.
//
// TokenBucket: `qps` tokens per second, at most `burst` saved. Reserve() takes a token and
// says how long to wait before using it (tokens may go negative: waiters queue up fairly).
// Time is passed in, so the arithmetic is tested without sleeping.
//
// RateLimiter (per work-queue item): When(item) says how long to wait before the item is
// retried. ItemExponentialFailureRateLimiter doubles per failure of that item (5 ms → 1000 s);
// BucketRateLimiter is an overall token bucket (10 qps, burst 100); MaxOfRateLimiter takes
// the longest of several. DefaultControllerRateLimiter() combines the two like client-go.
//
// Thread-safety: all classes here are thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ringleader::kube {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;

class TokenBucket {
 public:
  // qps <= 0 means unlimited (Reserve() always returns 0).
  TokenBucket(double qps, int burst, Clock::time_point now = Clock::now());

  // Takes one token; returns how long the caller must wait before proceeding.
  Duration Reserve(Clock::time_point now);
  // Takes a token only if one is available right now.
  bool TryAccept(Clock::time_point now);
  // Reserve(Clock::now()) then sleeps the returned time.
  void Accept();

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  void Refill(Clock::time_point now);

  std::mutex mu_;
  double qps_;
  int burst_;
  double tokens_;
  Clock::time_point last_;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Delay before `item` may be processed again; counts as one more failure of the item.
  virtual Duration When(const std::string& item) = 0;
  // The item succeeded: reset its failure count.
  virtual void Forget(const std::string& item) = 0;
  virtual int NumRequeues(const std::string& item) = 0;
};

class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ItemExponentialFailureRateLimiter(Duration base_delay, Duration max_delay);
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  std::mutex mu_;
  Duration base_delay_;
  Duration max_delay_;
  std::map<std::string, int> failures_;
};

class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst);
  Duration When(const std::string& item) override;
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  TokenBucket bucket_;
};

class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;  // the max over the limiters

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// Per-item 5 ms → 1000 s exponential, max'ed with an overall 10 qps / burst 100 bucket.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter();

// client-go's wait.Jitter: d + rand[0, d * factor). Spreads reconnects of many informers.
Duration Jitter(Duration d, double factor);

}  // namespace ringleader::kube
