#include "ringleader/runtime/collectives/dtype.h"

#include <gtest/gtest.h>

#include <bit>
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

// The textbook, branchy conversions (what dtype.cc had before its branch-free ones): the oracle.
uint16_t ReferenceFloatToHalf(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> Inf
  if (abs < 0x38800000u) {  // subnormal half (or zero)
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((abs >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into exponent
  return static_cast<uint16_t>(sign | half);
}
float ReferenceHalfToFloat(uint16_t bits) {
  const uint32_t sign = (bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t mant = bits & 0x3ffu;
  uint32_t f;
  if (exp == 0x1f) {
    f = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      f = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400u) == 0);
      f = sign | ((112u - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    f = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(f);
}

uint32_t BitsOf(float f) { return std::bit_cast<uint32_t>(f); }

TEST(DtypeTest, HalfConversionsMatchTheTextbookOnesBitForBit) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {  // every half: normal, subnormal, zero, Inf, NaN
    ASSERT_EQ(BitsOf(HalfToFloat(static_cast<uint16_t>(h))), BitsOf(ReferenceHalfToFloat(static_cast<uint16_t>(h))))
        << std::hex << h;
  }
  // A sweep over all 2^32 float patterns with an odd stride (every exponent, both signs,
  // mantissas with every low-bit pattern), plus the edges of each rounding region.
  std::vector<uint32_t> patterns;
  for (uint64_t x = 0; x <= 0xffffffffu; x += 997) patterns.push_back(static_cast<uint32_t>(x));
  for (uint32_t edge : {0x33000000u, 0x33000001u, 0x387fefffu, 0x387ff000u, 0x38800000u, 0x477fefffu,
                        0x477ff000u, 0x477fffffu, 0x47800000u, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0x00000001u}) {
    patterns.push_back(edge);
    patterns.push_back(edge | 0x80000000u);
  }
  for (uint32_t bits : patterns) {
    const float f = std::bit_cast<float>(bits);
    ASSERT_EQ(FloatToHalf(f), ReferenceFloatToHalf(f)) << std::hex << bits;
  }
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

// fp16 / bf16 reduce in fp32 and round back to 16 bits after every addition and the division.
TEST(DtypeTest, ReduceSourcesRounds16BitSumsAfterEveryAdditionInOrder) {
  const size_t count = 1037;
  for (int n = 1; n <= 12; ++n) {
    for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
      const bool half = type == DataType::kFloat16;
      auto to16 = [&](float f) { return half ? ReferenceFloatToHalf(f) : FloatToBFloat16(f); };
      auto to32 = [&](uint16_t h) { return half ? ReferenceHalfToFloat(h) : BFloat16ToFloat(h); };
      std::vector<std::vector<uint16_t>> inputs;
      for (int s = 0; s < n; ++s) {
        std::vector<uint16_t> v;
        for (float f : AwkwardFloats(count, 7 * s + n)) v.push_back(to16(std::ldexp(f, -20)));
        inputs.push_back(v);
      }
      // NaNs with payloads and signs, and infinities, one source per element at most (which
      // NaN wins between two is the FPU's business, not ours).
      const uint16_t specials[] = {static_cast<uint16_t>(half ? 0x7c01 : 0x7f81), static_cast<uint16_t>(half ? 0xfe55 : 0xffc5),
                                   static_cast<uint16_t>(half ? 0x7fff : 0x7fff), static_cast<uint16_t>(half ? 0xfc00 : 0xff80)};
      for (size_t i = 0; i < count; i += 13) {
        inputs[i % static_cast<size_t>(n)][i] = specials[(i / 13) % 4];
      }
      for (int divisor : {1, n}) {
        std::vector<uint16_t> want(count);
        for (size_t i = 0; i < count; ++i) {
          uint16_t acc = inputs[0][i];
          for (int s = 1; s < n; ++s) acc = to16(to32(acc) + to32(inputs[s][i]));
          want[i] = divisor > 1 ? to16(to32(acc) / static_cast<float>(divisor)) : acc;
        }
        std::vector<std::vector<uint16_t>> in = inputs;
        std::vector<const void*> sources;
        for (auto& v : in) sources.push_back(v.data());
        uint16_t* dst = in[static_cast<size_t>(n / 2)].data();  // in place, as the shm paths reduce
        ReduceSources(dst, sources.data(), n, count, type, divisor);
        ASSERT_EQ(std::vector<uint16_t>(dst, dst + count), want)
            << DataTypeName(type) << ", " << n << " sources, divisor " << divisor;
      }
    }
  }
}

TEST(DtypeTest, ReduceSources16MatchesTheScalarRoundingForEveryPattern) {
  // Every 16-bit pattern (NaNs and infinities included) plus each of a few partners, summed and
  // averaged: 65536 elements, a multiple of 8, so where the CPU has AVX2 + F16C this is all the
  // vector path, checked against the scalar conversions (the textbook ones for fp16).
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    const bool half = type == DataType::kFloat16;
    auto to16 = [&](float f) { return half ? ReferenceFloatToHalf(f) : FloatToBFloat16(f); };
    auto to32 = [&](uint16_t h) { return half ? ReferenceHalfToFloat(h) : BFloat16ToFloat(h); };
    const std::vector<uint16_t> partners = half ? std::vector<uint16_t>{0x3c00, 0x0001, 0x8400, 0x7bff, 0xfbff, 0x7c00}
                                                : std::vector<uint16_t>{0x3f80, 0x0001, 0x8080, 0x7f7f, 0xff7f, 0x7f80};
    for (uint16_t partner : partners) {
      std::vector<uint16_t> all(65536), other(65536, partner);
      for (uint32_t h = 0; h <= 0xffff; ++h) all[h] = static_cast<uint16_t>(h);
      for (int divisor : {1, 3}) {
        std::vector<uint16_t> out(all.size());
        const void* sources[] = {all.data(), other.data()};
        ReduceSources(out.data(), sources, 2, all.size(), type, divisor);
        for (uint32_t h = 0; h <= 0xffff; ++h) {
          uint16_t want = to16(to32(static_cast<uint16_t>(h)) + to32(partner));
          if (divisor > 1) want = to16(to32(want) / static_cast<float>(divisor));
          ASSERT_EQ(out[h], want) << DataTypeName(type) << std::hex << ": " << h << " + " << partner << ", divisor "
                                  << divisor;
        }
      }
    }
  }
}

TEST(DtypeTest, DivideInPlaceDividesEveryElementOnce) {
  std::vector<float> f = {3, -7.5f, 1e-40f, 6};
  DivideInPlace(f.data(), f.size(), DataType::kFloat32, 3);
  EXPECT_EQ(f, (std::vector<float>{3.0f / 3, -7.5f / 3, 1e-40f / 3, 6.0f / 3}));
  std::vector<int32_t> i = {7, -7, 2};
  DivideInPlace(i.data(), i.size(), DataType::kInt32, 2);
  EXPECT_EQ(i, (std::vector<int32_t>{3, -3, 1}));  // truncates toward zero
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {  // every pattern, rounded once
    const bool half = type == DataType::kFloat16;
    std::vector<uint16_t> all(65536);
    for (uint32_t h = 0; h <= 0xffff; ++h) all[h] = static_cast<uint16_t>(h);
    DivideInPlace(all.data(), all.size(), type, 3);
    for (uint32_t h = 0; h <= 0xffff; ++h) {
      const uint16_t want = half ? ReferenceFloatToHalf(ReferenceHalfToFloat(static_cast<uint16_t>(h)) / 3.0f)
                                 : FloatToBFloat16(BFloat16ToFloat(static_cast<uint16_t>(h)) / 3.0f);
      ASSERT_EQ(all[h], want) << DataTypeName(type) << std::hex << " " << h;
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
