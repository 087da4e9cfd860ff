#include "ringleader/runtime/collectives/dtype.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "reduce16_simd.h"
#include "source_count.h"

namespace ringleader::runtime {

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32: return 4;
    case DataType::kFloat64: return 8;
    case DataType::kFloat16: return 2;
    case DataType::kBFloat16: return 2;
    case DataType::kInt32: return 4;
    case DataType::kInt64: return 8;
  }
  return 0;
}

const char* DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "fp32";
    case DataType::kFloat64: return "fp64";
    case DataType::kFloat16: return "fp16";
    case DataType::kBFloat16: return "bf16";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
  }
  return "unknown";
}

StatusOr<DataType> ParseDataType(std::string_view name) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16,
                     DataType::kBFloat16, DataType::kInt32, DataType::kInt64}) {
    if (name == DataTypeName(t)) return t;
  }
  return InvalidArgumentError("unknown dtype '" + std::string(name) +
                              "' (want fp32, fp64, fp16, bf16, int32 or int64)");
}

const char* ReduceOpName(ReduceOp op) { return op == ReduceOp::kSum ? "sum" : "avg"; }

namespace {

// Picks a or b by a mask rather than a branch: GCC would otherwise sink the float arithmetic that
// only one side needs into a branch, which it then cannot turn back into a vector select
// (the arithmetic could trap), and a loop over the conversion would not vectorize.
inline uint32_t Select(bool take_a, uint32_t a, uint32_t b) {
  const uint32_t mask = 0u - static_cast<uint32_t>(take_a);
  return (a & mask) | (b & ~mask);
}

}  // namespace

// Both conversions are branch-free (selects, not early returns) so that loops over them
// vectorize (ReduceSources, ReduceInto); an exhaustive check against the branchy versions they
// replaced matched all 2^32 floats and 2^16 halves bit for bit (dtype_test keeps a sample).
uint16_t FloatToHalf(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  // Normal half: rebias the exponent and round the 13 dropped bits to nearest even; a carry
  // out of the mantissa moves the exponent up, into Inf above 65504.
  const uint32_t normal = (abs - (112u << 23) + 0xfffu + ((abs >> 13) & 1u)) >> 13;
  // Subnormal half (or zero): adding 0.5f leaves the value's units of 2^-24 as the low bits of
  // the sum's mantissa, and the FPU rounds them to nearest even.
  float shifted;
  std::memcpy(&shifted, &abs, 4);
  shifted += 0.5f;
  uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, 4);
  const uint32_t subnormal = shifted_bits - 0x3f000000u;
  const uint32_t special = abs > 0x7f800000u ? 0x7e00u : 0x7c00u;  // NaN (quiet, no payload), Inf
  const uint32_t large = abs >= 0x7f800000u ? special : abs >= 0x47800000u ? 0x7c00u : normal;
  return static_cast<uint16_t>(sign | Select(abs < 0x38800000u, subnormal, large));
}

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = (bits & 0x8000u) << 16;
  const uint32_t shifted = (bits & 0x7fffu) << 13;  // exponent and mantissa in float position
  const uint32_t exp = shifted & 0x0f800000u;
  const uint32_t normal = shifted + (112u << 23);
  const uint32_t special = shifted + (224u << 23);  // Inf / NaN: all exponent bits set
  // Subnormal half (or zero): as a normal with exponent 2^-14, minus the implicit 2^-14.
  uint32_t with_implicit = shifted + (113u << 23);
  float subnormal;
  std::memcpy(&subnormal, &with_implicit, 4);
  subnormal -= 6.103515625e-05f;  // 2^-14
  uint32_t subnormal_bits;
  std::memcpy(&subnormal_bits, &subnormal, 4);
  const uint32_t f = sign | Select(exp == 0, subnormal_bits, exp == 0x0f800000u ? special : normal);
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

uint16_t FloatToBFloat16(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  const uint32_t rounded = (f + 0x7fffu + ((f >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (f >> 16) | 0x40u;
  // A select, not an early return, so that loops over it vectorize (ReduceSources).
  return static_cast<uint16_t>((f & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

float BFloat16ToFloat(uint16_t bits) {
  const uint32_t f = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

namespace {

// The ring's fused last step for fp16/bf16: add and divide in fp32, then round once (a 2-source
// ReduceSources would round after the addition and again after the division).
template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void ReduceInto16(uint16_t* dst, const uint16_t* src, size_t count, int divisor) {
  const float d = static_cast<float>(divisor);
  for (size_t i = 0; i < count; ++i) {
    float sum = ToFloat(dst[i]) + ToFloat(src[i]);
    if (divisor > 1) sum /= d;
    dst[i] = FromFloat(sum);
  }
}

// How a dtype adds and divides in a reduce: natively, or (fp16, bf16) in fp32 rounded back to
// 16 bits after every operation, exactly as the ring does, so every backend gives the same bits
// for the same summation order.
template <typename T>
struct NativeArithmetic {
  using Value = T;
  static T Add(T a, T b) { return a + b; }
  static T Divide(T a, T divisor) { return a / divisor; }
};

template <DataType Type, float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
struct Rounded16Arithmetic {
  using Value = uint16_t;
  static constexpr DataType kType = Type;
  static uint16_t Add(uint16_t a, uint16_t b) { return FromFloat(ToFloat(a) + ToFloat(b)); }
  static uint16_t Divide(uint16_t a, float divisor) { return FromFloat(ToFloat(a) / divisor); }
};
using HalfArithmetic = Rounded16Arithmetic<DataType::kFloat16, HalfToFloat, FloatToHalf>;
using BFloat16Arithmetic = Rounded16Arithmetic<DataType::kBFloat16, BFloat16ToFloat, FloatToBFloat16>;

// The divisor as Divide takes it: the dtype itself, or fp32 for the 16-bit types.
template <typename A>
auto DivisorOf(int divisor) {
  if constexpr (std::is_same_v<typename A::Value, uint16_t>) {
    return static_cast<float>(divisor);
  } else {
    return static_cast<typename A::Value>(divisor);
  }
}

// dst[i] = (s[0][i] + ... + s[N-1][i]) / divisor, every element read and written once.
// With N fixed the compiler unrolls the sum over sources and vectorizes across i; the old
// loop (copy a block, add each source into it, divide it out) made N + 1 passes and ran the
// 4-source reduce at half the speed (docs/performance.md). dst may be one of the sources:
// each element is read before it is written at the same index, so there is no dependence
// between iterations (ivdep); a partial overlap would be one, and no caller has one.
template <typename A, int N>
void SumSourcesOnePass(typename A::Value* dst, const typename A::Value* const* s, size_t count, int divisor) {
  using T = typename A::Value;
  const T* src[N];
  for (int k = 0; k < N; ++k) src[k] = s[k];
  if (divisor > 1) {
    const auto d = DivisorOf<A>(divisor);
#pragma GCC ivdep
    for (size_t i = 0; i < count; ++i) {
      T sum = src[0][i];
      for (int k = 1; k < N; ++k) sum = A::Add(sum, src[k][i]);
      dst[i] = A::Divide(sum, d);
    }
  } else {
#pragma GCC ivdep
    for (size_t i = 0; i < count; ++i) {
      T sum = src[0][i];
      for (int k = 1; k < N; ++k) sum = A::Add(sum, src[k][i]);
      dst[i] = sum;
    }
  }
}

template <typename A>
void SumSourcesUpToEight(typename A::Value* dst, const typename A::Value* const* s, int n, size_t count,
                         int divisor) {
  const typename A::Value* rest[kMaxSourcesPerPass];
  if constexpr (std::is_same_v<typename A::Value, uint16_t>) {
    // AVX2 + F16C take the leading multiple of 8 elements where the CPU has them.
    if (const size_t done = Reduce16WithSimd(A::kType, dst, s, n, count, divisor); done > 0) {
      for (int k = 0; k < n; ++k) rest[k] = s[k] + done;
      s = rest;
      dst += done;
      count -= done;
    }
  }
  WithSourceCount(n, [&](auto sources) { SumSourcesOnePass<A, decltype(sources)::value>(dst, s, count, divisor); });
}

// Block of the running sum when more than kMaxSourcesPerPass sources are chained: it stays
// in L1 while every group is added, and dst is written once, by the last group (so dst may
// still be any one of the sources). The 16-bit running sum loses nothing by being stored:
// it is rounded to 16 bits after every addition anyway.
constexpr size_t kReduceBlockBytes = 8192;

template <typename A>
void ReduceSourcesT(typename A::Value* dst, const void* const* untyped, int n, size_t count, int divisor) {
  using T = typename A::Value;
  const T* const* sources = reinterpret_cast<const T* const*>(untyped);
  if (n <= kMaxSourcesPerPass) return SumSourcesUpToEight<A>(dst, sources, n, count, divisor);
  constexpr size_t kBlock = kReduceBlockBytes / sizeof(T);
  T acc[kBlock];
  const T* group[kMaxSourcesPerPass];
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t len = std::min(kBlock, count - begin);
    for (int k = 0; k < kMaxSourcesPerPass; ++k) group[k] = sources[k] + begin;
    SumSourcesOnePass<A, kMaxSourcesPerPass>(acc, group, len, 1);
    // Each later group starts from the running sum, so the order stays sources[0], [1], ...
    for (int next = kMaxSourcesPerPass; next < n;) {
      const int take = std::min(kMaxSourcesPerPass - 1, n - next);
      group[0] = acc;
      for (int k = 0; k < take; ++k) group[1 + k] = sources[next + k] + begin;
      next += take;
      const bool last = next == n;
      SumSourcesUpToEight<A>(last ? dst + begin : acc, group, 1 + take, len, last ? divisor : 1);
    }
  }
}

}  // namespace

void ReduceInto(void* dst, const void* src, size_t count, DataType type, int divisor) {
  switch (type) {
    case DataType::kFloat16:
      return ReduceInto16<HalfToFloat, FloatToHalf>(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src),
                                                    count, divisor);
    case DataType::kBFloat16:
      return ReduceInto16<BFloat16ToFloat, FloatToBFloat16>(static_cast<uint16_t*>(dst),
                                                            static_cast<const uint16_t*>(src), count, divisor);
    default: {
      // Natively (dst + src) / divisor is the 2-source reduce, one rounding either way.
      const void* both[] = {dst, src};
      return ReduceSources(dst, both, 2, count, type, divisor);
    }
  }
}

void ReduceSources(void* dst, const void* const* sources, int num_sources, size_t count,
                   DataType type, int divisor) {
  switch (type) {
    case DataType::kFloat32:
      return ReduceSourcesT<NativeArithmetic<float>>(static_cast<float*>(dst), sources, num_sources, count, divisor);
    case DataType::kFloat64:
      return ReduceSourcesT<NativeArithmetic<double>>(static_cast<double*>(dst), sources, num_sources, count,
                                                      divisor);
    case DataType::kInt32:
      return ReduceSourcesT<NativeArithmetic<int32_t>>(static_cast<int32_t*>(dst), sources, num_sources, count,
                                                       divisor);
    case DataType::kInt64:
      return ReduceSourcesT<NativeArithmetic<int64_t>>(static_cast<int64_t*>(dst), sources, num_sources, count,
                                                       divisor);
    case DataType::kFloat16:
      return ReduceSourcesT<HalfArithmetic>(static_cast<uint16_t*>(dst), sources, num_sources, count, divisor);
    case DataType::kBFloat16:
      return ReduceSourcesT<BFloat16Arithmetic>(static_cast<uint16_t*>(dst), sources, num_sources, count, divisor);
  }
}

void DivideInPlace(void* buf, size_t count, DataType type, int divisor) {
  if (divisor <= 1) return;
  const void* self[] = {buf};  // a 1-source reduce with the divisor: the same arithmetic
  ReduceSources(buf, self, 1, count, type, divisor);
}

}  // namespace ringleader::runtime
