#include "ringleader/runtime/collectives/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

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

// Sums sources[0] + sources[1] + ... element by element, the order every backend promises.
template <typename T>
std::vector<T> SumInOrder(const std::vector<std::vector<T>>& inputs, int divisor) {
  std::vector<T> out(inputs[0]);
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t s = 1; s < inputs.size(); ++s) out[i] += inputs[s][i];
    if (divisor > 1) out[i] /= static_cast<T>(divisor);
  }
  return out;
}

// Floats whose sums round differently in another order, so a reordered sum fails the test.
std::vector<float> AwkwardFloats(size_t count, int seed) {
  std::vector<float> v(count);
  uint32_t x = 2654435761u * static_cast<uint32_t>(seed + 1);
  for (auto& f : v) {
    x = x * 1664525u + 1013904223u;
    f = std::ldexp(static_cast<float>(x >> 8) - 8388608.0f, static_cast<int>(x % 24) - 12);
  }
  return v;
}

TEST(DtypeTest, ReduceSourcesMatchesTheInOrderSumForEveryGroupingAndAlias) {
  // 1..8 sources take one pass; 9..20 chain groups through a block-sized running sum.
  // 2053 elements: several 8 KiB blocks plus a tail that is no multiple of any vector width.
  const size_t count = 2053;
  for (int n = 1; n <= 20; ++n) {
    std::vector<std::vector<float>> inputs;
    for (int s = 0; s < n; ++s) inputs.push_back(AwkwardFloats(count, s + 31 * n));
    for (int divisor : {1, n}) {
      const std::vector<float> want = SumInOrder(inputs, divisor);
      // dst separate from every source, then dst = each source in turn (the shm paths
      // reduce into the rank's own buffer, which is also its source).
      for (int alias = -1; alias < n; ++alias) {
        std::vector<std::vector<float>> in = inputs;
        std::vector<float> separate(count, -1.0f);
        std::vector<const void*> sources;
        for (auto& v : in) sources.push_back(v.data());
        float* dst = alias < 0 ? separate.data() : in[static_cast<size_t>(alias)].data();
        ReduceSources(dst, sources.data(), n, count, DataType::kFloat32, divisor);
        const std::vector<float> got(dst, dst + count);
        ASSERT_EQ(got, want) << n << " sources, divisor " << divisor << ", dst = source " << alias;
      }
    }
  }
}

TEST(DtypeTest, ReduceSourcesSumsIntegersAndDoublesInOrder) {
  std::vector<std::vector<int64_t>> ints;
  std::vector<std::vector<double>> doubles;
  for (int s = 0; s < 11; ++s) {
    ints.push_back({s * 7 - 30, 1000000007LL * s, -s});
    doubles.push_back({1e16 * (s % 2 ? 1 : -1), 0.1 * s, 3.0 + s});
  }
  for (int divisor : {1, 11}) {
    std::vector<const void*> int_sources, double_sources;
    for (auto& v : ints) int_sources.push_back(v.data());
    for (auto& v : doubles) double_sources.push_back(v.data());
    std::vector<int64_t> int_out(3);
    std::vector<double> double_out(3);
    ReduceSources(int_out.data(), int_sources.data(), 11, 3, DataType::kInt64, divisor);
    ReduceSources(double_out.data(), double_sources.data(), 11, 3, DataType::kFloat64, divisor);
    EXPECT_EQ(int_out, SumInOrder(ints, divisor));
    EXPECT_EQ(double_out, SumInOrder(doubles, divisor));
  }
}

TEST(DtypeTest, ParsesNames) {
  EXPECT_EQ(*ParseDataType("bf16"), DataType::kBFloat16);
  EXPECT_EQ(ParseDataType("float8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DataTypeSize(DataType::kFloat16), 2u);
}

}  // namespace
}  // namespace ringleader::runtime
