#include "collective_harness.h"

#include <gtest/gtest.h>

namespace ringleader::harness {
namespace {

TEST(CollectiveHarnessTest, ParseByteCountReadsPowersOf1024) {
  EXPECT_EQ(ParseByteCount("4096"), 4096u);
  EXPECT_EQ(ParseByteCount("256K"), 256u << 10);
  EXPECT_EQ(ParseByteCount("64M"), 64u << 20);
  EXPECT_EQ(ParseByteCount("1G"), size_t{1} << 30);
  EXPECT_EQ(ParseByteCount("0"), 0u);
  for (size_t bytes : {size_t{16}, size_t{64} << 10, size_t{4} << 20}) {  // HumanBytes round-trips
    EXPECT_EQ(ParseByteCount(HumanBytes(bytes)), bytes) << HumanBytes(bytes);
  }
}

TEST(CollectiveHarnessTest, ParseByteCountRejectsWhatItCannotReadExactly) {
  for (const char* bad : {"", "K", "MiB", "64MB", "64m", "64Mi", "12x", "-1", " 5", "5 ", "1.5M", "9999999999999999", "999999999999999G"}) {
    EXPECT_FALSE(ParseByteCount(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(CollectiveHarnessTest, SpreadOfGivesMedianAndRange) {
  const Spread odd = SpreadOf({3, 1, 2});
  EXPECT_EQ(odd.median, 2);
  EXPECT_EQ(odd.min, 1);
  EXPECT_EQ(odd.max, 3);
  EXPECT_EQ(SpreadOf({4, 1, 3, 2}).median, 2.5);  // even count: mean of the middle two
  EXPECT_EQ(SpreadOf({}).n, 0);
}

}  // namespace
}  // namespace ringleader::harness
