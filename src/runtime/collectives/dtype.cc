#include "ringleader/runtime/collectives/dtype.h"

#include <algorithm>
#include <cstring>

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

uint16_t FloatToHalf(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
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

float HalfToFloat(uint16_t bits) {
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
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

uint16_t FloatToBFloat16(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);  // NaN
  const uint32_t rounding = 0x7fffu + ((f >> 16) & 1u);
  return static_cast<uint16_t>((f + rounding) >> 16);
}

float BFloat16ToFloat(uint16_t bits) {
  const uint32_t f = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

namespace {

template <typename T>
void ReduceIntoT(T* __restrict dst, const T* __restrict src, size_t count, int divisor) {
  if (divisor > 1) {
    const T d = static_cast<T>(divisor);
    for (size_t i = 0; i < count; ++i) dst[i] = (dst[i] + src[i]) / d;
  } else {
    for (size_t i = 0; i < count; ++i) dst[i] += src[i];
  }
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void ReduceInto16(uint16_t* dst, const uint16_t* src, size_t count, int divisor) {
  const float d = static_cast<float>(divisor);
  for (size_t i = 0; i < count; ++i) {
    float sum = ToFloat(dst[i]) + ToFloat(src[i]);
    if (divisor > 1) sum /= d;
    dst[i] = FromFloat(sum);
  }
}

template <typename T>
void DivideT(T* buf, size_t count, int divisor) {
  const T d = static_cast<T>(divisor);
  for (size_t i = 0; i < count; ++i) buf[i] /= d;
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void Divide16(uint16_t* buf, size_t count, int divisor) {
  const float d = static_cast<float>(divisor);
  for (size_t i = 0; i < count; ++i) buf[i] = FromFloat(ToFloat(buf[i]) / d);
}

// Sources summed in one pass over memory; more are chained through a block-sized partial sum.
constexpr int kMaxSourcesPerPass = 8;

// dst[i] = (s[0][i] + ... + s[N-1][i]) / divisor, every element read and written once.
// With N fixed the compiler unrolls the sum over sources and vectorizes across i; the old
// loop (copy a block, add each source into it, divide it out) made N + 1 passes and ran the
// 4-source reduce at half the speed (docs/performance.md). dst may be one of the sources:
// each element is read before it is written at the same index, so there is no dependence
// between iterations (ivdep); a partial overlap would be one, and no caller has one.
template <typename T, int N>
void SumSourcesOnePass(T* dst, const T* const* s, size_t count, int divisor) {
  const T* src[N];
  for (int k = 0; k < N; ++k) src[k] = s[k];
  if (divisor > 1) {
    const T d = static_cast<T>(divisor);
#pragma GCC ivdep
    for (size_t i = 0; i < count; ++i) {
      T sum = src[0][i];
      for (int k = 1; k < N; ++k) sum += src[k][i];
      dst[i] = sum / d;
    }
  } else {
#pragma GCC ivdep
    for (size_t i = 0; i < count; ++i) {
      T sum = src[0][i];
      for (int k = 1; k < N; ++k) sum += src[k][i];
      dst[i] = sum;
    }
  }
}

template <typename T>
void SumSourcesUpToEight(T* dst, const T* const* s, int n, size_t count, int divisor) {
  switch (n) {
    case 1: return SumSourcesOnePass<T, 1>(dst, s, count, divisor);
    case 2: return SumSourcesOnePass<T, 2>(dst, s, count, divisor);
    case 3: return SumSourcesOnePass<T, 3>(dst, s, count, divisor);
    case 4: return SumSourcesOnePass<T, 4>(dst, s, count, divisor);
    case 5: return SumSourcesOnePass<T, 5>(dst, s, count, divisor);
    case 6: return SumSourcesOnePass<T, 6>(dst, s, count, divisor);
    case 7: return SumSourcesOnePass<T, 7>(dst, s, count, divisor);
    default: return SumSourcesOnePass<T, 8>(dst, s, count, divisor);
  }
}
static_assert(kMaxSourcesPerPass == 8, "SumSourcesUpToEight dispatches 1..8 sources");

// Block of the running sum when more than kMaxSourcesPerPass sources are chained: it stays
// in L1 while every group is added, and dst is written once, by the last group (so dst may
// still be any one of the sources).
constexpr size_t kReduceBlockBytes = 8192;

template <typename T>
void ReduceSourcesT(T* dst, const T* const* sources, int n, size_t count, int divisor) {
  if (n <= kMaxSourcesPerPass) return SumSourcesUpToEight(dst, sources, n, count, divisor);
  constexpr size_t kBlock = kReduceBlockBytes / sizeof(T);
  T acc[kBlock];
  const T* group[kMaxSourcesPerPass];
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t len = std::min(kBlock, count - begin);
    for (int k = 0; k < kMaxSourcesPerPass; ++k) group[k] = sources[k] + begin;
    SumSourcesOnePass<T, kMaxSourcesPerPass>(acc, group, len, 1);
    // Each later group starts from the running sum, so the order stays sources[0], [1], ...
    for (int next = kMaxSourcesPerPass; next < n;) {
      const int take = std::min(kMaxSourcesPerPass - 1, n - next);
      group[0] = acc;
      for (int k = 0; k < take; ++k) group[1 + k] = sources[next + k] + begin;
      next += take;
      const bool last = next == n;
      SumSourcesUpToEight(last ? dst + begin : acc, group, 1 + take, len, last ? divisor : 1);
    }
  }
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void ReduceSources16(uint16_t* dst, const uint16_t* const* sources, int n, size_t count,
                     int divisor) {
  // Rounded to 16 bits after every addition, exactly like the ring does, so every backend
  // gives bit-identical fp16/bf16 results for the same summation order.
  const float d = static_cast<float>(divisor);
  for (size_t i = 0; i < count; ++i) {
    uint16_t acc = sources[0][i];
    for (int s = 1; s < n; ++s) acc = FromFloat(ToFloat(acc) + ToFloat(sources[s][i]));
    dst[i] = divisor > 1 ? FromFloat(ToFloat(acc) / d) : acc;
  }
}

}  // namespace

void ReduceInto(void* dst, const void* src, size_t count, DataType type, int divisor) {
  switch (type) {
    case DataType::kFloat32:
      return ReduceIntoT(static_cast<float*>(dst), static_cast<const float*>(src), count, divisor);
    case DataType::kFloat64:
      return ReduceIntoT(static_cast<double*>(dst), static_cast<const double*>(src), count,
                         divisor);
    case DataType::kInt32:
      return ReduceIntoT(static_cast<int32_t*>(dst), static_cast<const int32_t*>(src), count,
                         divisor);
    case DataType::kInt64:
      return ReduceIntoT(static_cast<int64_t*>(dst), static_cast<const int64_t*>(src), count,
                         divisor);
    case DataType::kFloat16:
      return ReduceInto16<HalfToFloat, FloatToHalf>(
          static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), count, divisor);
    case DataType::kBFloat16:
      return ReduceInto16<BFloat16ToFloat, FloatToBFloat16>(
          static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), count, divisor);
  }
}

void ReduceSources(void* dst, const void* const* sources, int num_sources, size_t count,
                   DataType type, int divisor) {
  switch (type) {
    case DataType::kFloat32:
      return ReduceSourcesT(static_cast<float*>(dst),
                            reinterpret_cast<const float* const*>(sources), num_sources, count,
                            divisor);
    case DataType::kFloat64:
      return ReduceSourcesT(static_cast<double*>(dst),
                            reinterpret_cast<const double* const*>(sources), num_sources, count,
                            divisor);
    case DataType::kInt32:
      return ReduceSourcesT(static_cast<int32_t*>(dst),
                            reinterpret_cast<const int32_t* const*>(sources), num_sources, count,
                            divisor);
    case DataType::kInt64:
      return ReduceSourcesT(static_cast<int64_t*>(dst),
                            reinterpret_cast<const int64_t* const*>(sources), num_sources, count,
                            divisor);
    case DataType::kFloat16:
      return ReduceSources16<HalfToFloat, FloatToHalf>(
          static_cast<uint16_t*>(dst), reinterpret_cast<const uint16_t* const*>(sources),
          num_sources, count, divisor);
    case DataType::kBFloat16:
      return ReduceSources16<BFloat16ToFloat, FloatToBFloat16>(
          static_cast<uint16_t*>(dst), reinterpret_cast<const uint16_t* const*>(sources),
          num_sources, count, divisor);
  }
}

void DivideInPlace(void* buf, size_t count, DataType type, int divisor) {
  if (divisor <= 1) return;
  switch (type) {
    case DataType::kFloat32: return DivideT(static_cast<float*>(buf), count, divisor);
    case DataType::kFloat64: return DivideT(static_cast<double*>(buf), count, divisor);
    case DataType::kInt32: return DivideT(static_cast<int32_t*>(buf), count, divisor);
    case DataType::kInt64: return DivideT(static_cast<int64_t*>(buf), count, divisor);
    case DataType::kFloat16:
      return Divide16<HalfToFloat, FloatToHalf>(static_cast<uint16_t*>(buf), count, divisor);
    case DataType::kBFloat16:
      return Divide16<BFloat16ToFloat, FloatToBFloat16>(static_cast<uint16_t*>(buf), count,
                                                        divisor);
  }
}

}  // namespace ringleader::runtime
