#include "ringleader/runtime/collectives/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ringleader::runtime {
namespace {

TEST(DtypeTest, HalfConversionsRoundToNearestEven) {
  struct Case {
    float in;
    uint16_t half;
  };
  const Case cases[] = {
      {0.0f, 0x0000},      {-0.0f, 0x8000},     {1.0f, 0x3c00},       {-2.0f, 0xc000},
      {65504.0f, 0x7bff},  {65520.0f, 0x7c00},  {1e-8f, 0x0000},      {5.9604645e-8f, 0x0001},
      {0.00006103515625f, 0x0400},  // smallest normal
      {1.0009765625f, 0x3c01},      // 1 + 2^-10
      {1.00048828125f, 0x3c00},     // halfway, rounds to even (down)
      {1.00146484375f, 0x3c02},     // halfway, rounds to even (up)
      {std::numeric_limits<float>::infinity(), 0x7c00},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FloatToHalf(c.in), c.half) << c.in;
  }
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {  // every finite half round-trips
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(bits))), bits) << bits;
  }
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
}

TEST(DtypeTest, BFloat16ConversionsRoundToNearestEven) {
  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3f80);
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(FloatToBFloat16(1.00390625f), 0x3f80);  // halfway: to even
  EXPECT_EQ(FloatToBFloat16(1.01171875f), 0x3f82);  // halfway: to even (up)
  EXPECT_EQ(FloatToBFloat16(-3.0f), 0xc040);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::nanf("")))));
}

TEST(DtypeTest, ReduceSourcesAveragesAndHandlesAliasing) {
  std::vector<float> a = {1, 2, 3}, b = {3, 4, 5}, c = {5, 6, 7};
  const void* sources[] = {a.data(), b.data(), c.data()};
  ReduceSources(a.data(), sources, 3, 3, DataType::kFloat32, 3);
  EXPECT_EQ(a, (std::vector<float>{3, 4, 5}));
  std::vector<int64_t> x = {10, -10}, y = {5, 5};
  ReduceInto(x.data(), y.data(), 2, DataType::kInt64, 2);
  EXPECT_EQ(x, (std::vector<int64_t>{7, -2}));  // integer averages truncate toward zero
}

TEST(DtypeTest, ParsesNames) {
  EXPECT_EQ(*ParseDataType("bf16"), DataType::kBFloat16);
  EXPECT_EQ(ParseDataType("float8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DataTypeSize(DataType::kFloat16), 2u);
}

}  // namespace
}  // namespace ringleader::runtime
