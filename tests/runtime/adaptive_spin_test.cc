#include "ringleader/runtime/collectives/adaptive_spin.h"

#include <gtest/gtest.h>

namespace ringleader::runtime {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(AdaptiveSpinTest, StartsBySleepingAtOnce) { EXPECT_EQ(AdaptiveSpin().Budget().count(), 0); }

// A core per rank: the peer arrives within microseconds, so the rank learns to spin about
// twice that long and stops paying a futex wake-up per barrier.
TEST(AdaptiveSpinTest, ShortWaitsGrowTheBudgetToTwiceTheirAverage) {
  AdaptiveSpin spin;
  for (int i = 0; i < 40; ++i) spin.Observe(microseconds(20), /*spun_out=*/false);
  EXPECT_GE(spin.Budget(), microseconds(39));
  EXPECT_LE(spin.Budget(), microseconds(40));
}

// Shared cores or a competing load: the peer is off the core for milliseconds, and spinning
// would only keep it off longer. A few such waits take the budget back towards zero.
TEST(AdaptiveSpinTest, LongWaitsCollapseTheBudget) {
  AdaptiveSpin spin;
  for (int i = 0; i < 40; ++i) spin.Observe(microseconds(30), /*spun_out=*/false);
  const auto before = spin.Budget();
  for (int i = 0; i < 8; ++i) spin.Observe(milliseconds(4), /*spun_out=*/false);
  EXPECT_LT(spin.Budget(), before / 8);
  for (int i = 0; i < 40; ++i) spin.Observe(milliseconds(4), /*spun_out=*/false);
  EXPECT_EQ(spin.Budget().count(), 0);
}

TEST(AdaptiveSpinTest, NeverSpinsLongerThanTheCap) {
  AdaptiveSpin spin;
  for (int i = 0; i < 40; ++i) spin.Observe(AdaptiveSpin::kCap, /*spun_out=*/false);
  EXPECT_EQ(spin.Budget(), AdaptiveSpin::kCap);
  for (int i = 0; i < 3; ++i) spin.Observe(AdaptiveSpin::kCap + microseconds(1), false);  // count as zero
  EXPECT_LT(spin.Budget(), AdaptiveSpin::kCap);
}

// A spin that ran out says the peer lost its core (a competing load): the next waits sleep at
// once, and the budget grows again only from waits that were short.
TEST(AdaptiveSpinTest, ASpinThatRunsOutStartsOverFromZero) {
  AdaptiveSpin spin;
  for (int i = 0; i < 40; ++i) spin.Observe(microseconds(30), /*spun_out=*/false);
  ASSERT_GT(spin.Budget().count(), 0);
  spin.Observe(microseconds(70), /*spun_out=*/true);
  EXPECT_EQ(spin.Budget().count(), 0);
  spin.Observe(microseconds(20), /*spun_out=*/false);
  EXPECT_EQ(spin.Budget(), microseconds(10));
}

// SpinPolicy: the option and the host's core count pick fixed, none or learned.
TEST(SpinPolicyTest, AFixedBudgetIgnoresTheWaits) {
  SpinPolicy spin(/*spin_us=*/50, /*ranks_here=*/8, /*online_cpus=*/2);
  EXPECT_EQ(spin.Budget(), microseconds(50));
  spin.Observe(microseconds(70), /*spun_out=*/true);
  EXPECT_EQ(spin.Budget(), microseconds(50));
}

TEST(SpinPolicyTest, ZeroNeverSpins) {
  SpinPolicy spin(/*spin_us=*/0, /*ranks_here=*/2, /*online_cpus=*/2);
  for (int i = 0; i < 40; ++i) spin.Observe(microseconds(30), /*spun_out=*/false);
  EXPECT_EQ(spin.Budget().count(), 0);
}

TEST(SpinPolicyTest, LearnsOnlyWithACorePerRank) {
  SpinPolicy one_core_each(/*spin_us=*/-1, /*ranks_here=*/2, /*online_cpus=*/2);
  SpinPolicy oversubscribed(/*spin_us=*/-1, /*ranks_here=*/4, /*online_cpus=*/2);
  for (int i = 0; i < 40; ++i) {
    one_core_each.Observe(microseconds(30), /*spun_out=*/false);
    oversubscribed.Observe(microseconds(30), /*spun_out=*/false);
  }
  EXPECT_GT(one_core_each.Budget().count(), 0);
  EXPECT_EQ(oversubscribed.Budget().count(), 0);
}

}  // namespace
}  // namespace ringleader::runtime
