#include "ringleader/kube/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

namespace ringleader::kube {

TokenBucket::TokenBucket(double qps, int burst, Clock::time_point now)
    : qps_(qps), burst_(std::max(burst, 1)), tokens_(std::max(burst, 1)), last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  if (now <= last_) return;
  double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
  last_ = now;
}

Duration TokenBucket::Reserve(Clock::time_point now) {
  if (qps_ <= 0) return Duration{0};
  std::lock_guard<std::mutex> lock(mu_);
  Refill(now);
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Duration{0};
  // Negative balance: this caller waits until its token has been earned.
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

bool TokenBucket::TryAccept(Clock::time_point now) {
  if (qps_ <= 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  Refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void TokenBucket::Accept() {
  Duration wait = Reserve(Clock::now());
  if (wait > Duration{0}) std::this_thread::sleep_for(wait);
}

ItemExponentialFailureRateLimiter::ItemExponentialFailureRateLimiter(Duration base_delay,
                                                                     Duration max_delay)
    : base_delay_(base_delay), max_delay_(max_delay) {}

Duration ItemExponentialFailureRateLimiter::When(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  int exp = failures_[item]++;
  // Compute in double to avoid overflow for large exponents, then clamp.
  double delay = static_cast<double>(base_delay_.count()) * std::pow(2.0, std::min(exp, 62));
  if (delay > static_cast<double>(max_delay_.count())) return max_delay_;
  return Duration{static_cast<Duration::rep>(delay)};
}

void ItemExponentialFailureRateLimiter::Forget(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(item);
}

int ItemExponentialFailureRateLimiter::NumRequeues(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst) : bucket_(qps, burst) {}

Duration BucketRateLimiter::When(const std::string&) { return bucket_.Reserve(Clock::now()); }

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {}

Duration MaxOfRateLimiter::When(const std::string& item) {
  Duration longest{0};
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->When(item));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& item) {
  for (auto& limiter : limiters_) limiter->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(const std::string& item) {
  int most = 0;
  for (auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(item));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter() {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(
      std::chrono::milliseconds(5), std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10, 100));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

Duration Jitter(Duration d, double factor) {
  if (factor <= 0) factor = 1.0;
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> dist(0.0, factor);
  return d + Duration{static_cast<Duration::rep>(static_cast<double>(d.count()) * dist(rng))};
}

}  // namespace ringleader::kube
