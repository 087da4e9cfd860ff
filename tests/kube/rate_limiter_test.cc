#include <gtest/gtest.h>

#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucketTest, BurstThenQps) {
  Clock::time_point t0{};
  TokenBucket bucket(10, 3, t0);  // 10/s: one token per 100 ms
  // The burst is free.
  EXPECT_EQ(bucket.Reserve(t0), Duration{0});
  EXPECT_EQ(bucket.Reserve(t0), Duration{0});
  EXPECT_EQ(bucket.Reserve(t0), Duration{0});
  // Then callers queue up 100 ms apart.
  EXPECT_EQ(bucket.Reserve(t0), milliseconds(100));
  EXPECT_EQ(bucket.Reserve(t0), milliseconds(200));
  // 250 ms later, 2.5 tokens have been earned: the debt of 2 is paid, 0.5 left.
  EXPECT_EQ(bucket.Reserve(t0 + milliseconds(250)), milliseconds(50));
  EXPECT_FALSE(bucket.TryAccept(t0 + milliseconds(250)));
  // Refill never exceeds the burst.
  EXPECT_TRUE(bucket.TryAccept(t0 + seconds(100)));
  EXPECT_TRUE(bucket.TryAccept(t0 + seconds(100)));
  EXPECT_TRUE(bucket.TryAccept(t0 + seconds(100)));
  EXPECT_FALSE(bucket.TryAccept(t0 + seconds(100)));
}

TEST(TokenBucketTest, ZeroQpsIsUnlimited) {
  TokenBucket bucket(0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(bucket.Reserve(Clock::now()), Duration{0});
  EXPECT_TRUE(bucket.TryAccept(Clock::now()));
}

TEST(ItemExponentialTest, DoublesPerItemUpToMax) {
  ItemExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  const std::vector<Duration> want = {milliseconds(5), milliseconds(10), milliseconds(20),
                                      milliseconds(40), milliseconds(80)};
  for (const auto& d : want) EXPECT_EQ(limiter.When("a"), d);
  EXPECT_EQ(limiter.NumRequeues("a"), 5);
  // Items are independent.
  EXPECT_EQ(limiter.When("b"), milliseconds(5));
  // Capped at the max, even after very many failures (no overflow).
  for (int i = 0; i < 100; ++i) limiter.When("a");
  EXPECT_EQ(limiter.When("a"), seconds(1000));
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
}

TEST(MaxOfTest, DefaultControllerRateLimiter) {
  auto limiter = DefaultControllerRateLimiter();
  // The first 100 failures across all items are within the bucket's burst: per-item backoff
  // decides.
  EXPECT_EQ(limiter->When("a"), milliseconds(5));
  EXPECT_EQ(limiter->When("a"), milliseconds(10));
  EXPECT_EQ(limiter->NumRequeues("a"), 2);
  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  // Past the burst the overall 10 qps bucket dominates fresh items' 5 ms.
  for (int i = 0; i < 200; ++i) limiter->When("item-" + std::to_string(i));
  EXPECT_GT(limiter->When("fresh"), seconds(5));
}

TEST(JitterTest, WithinRange) {
  for (int i = 0; i < 1000; ++i) {
    Duration d = Jitter(milliseconds(100), 1.0);
    EXPECT_GE(d, milliseconds(100));
    EXPECT_LT(d, milliseconds(200));
  }
}

}  // namespace
}  // namespace ringleader::kube
