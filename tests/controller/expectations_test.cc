#include "ringleader/controller/expectations.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using namespace std::chrono_literals;

TEST(ExpectationsTest, SatisfiedOnlyWhenEveryExpectedPodWasObservedOrTheyExpired) {
  Expectations e(30s);
  auto t0 = Expectations::Clock::now();
  EXPECT_TRUE(e.Satisfied("ml/a", t0));
  e.ExpectCreations("ml/a", {"a-worker-0", "a-worker-1"}, t0);
  EXPECT_FALSE(e.Satisfied("ml/a", t0));
  EXPECT_TRUE(e.Satisfied("ml/b", t0)) << "other jobs are not affected";
  e.CreationObserved("ml/a", "a-worker-0");
  e.CreationObserved("ml/a", "a-worker-0");  // repeated events are harmless
  EXPECT_EQ(e.Pending("ml/a"), 1u);
  EXPECT_FALSE(e.Satisfied("ml/a", t0 + 29s));
  EXPECT_TRUE(e.Satisfied("ml/a", t0 + 30s)) << "a lost event must not wedge the job";
  e.CreationObserved("ml/a", "a-worker-1");
  EXPECT_TRUE(e.Satisfied("ml/a", t0));
}

TEST(ExpectationsTest, ForgetDropsEverything) {
  Expectations e;
  e.ExpectCreations("ml/a", {"x"});
  e.Forget("ml/a");
  EXPECT_TRUE(e.Satisfied("ml/a"));
  EXPECT_EQ(e.Pending("ml/a"), 0u);
}

}  // namespace
}  // namespace ringleader::controller
