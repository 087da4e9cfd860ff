// fp16 / bf16 reduce on AVX2 + F16C, picked at run time. The portable conversions cost ~20
// integer ops per element even vectorized for the SSE2 baseline (reduce_kernel_bench: fp16 at
// 2%, bf16 at 8% of memcpy); here fp16 converts with one vcvtph2ps / vcvtps2ph per 8 elements and
// bf16 with a few 256-bit integer ops. Both round to nearest even like the portable code, so
// only NaN needs care: vcvtps2ph keeps a NaN's payload where FloatToHalf makes every NaN
// 0x7e00 | sign, so NaN lanes are rewritten to that after every rounding.
#include "reduce16_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "source_count.h"

namespace ringleader::runtime {

#if defined(__x86_64__)
namespace {

#define RINGLEADER_SIMD16 __attribute__((target("avx2,f16c")))

struct HalfCodec {
  RINGLEADER_SIMD16 static __m256 Widen(__m128i h) { return _mm256_cvtph_ps(h); }
  RINGLEADER_SIMD16 static __m128i Round(__m256 values) {
    const __m128i h = _mm256_cvtps_ph(values, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m128i magnitude = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
    const __m128i is_nan = _mm_cmpgt_epi16(magnitude, _mm_set1_epi16(0x7c00));  // both non-negative
    const __m128i canonical =
        _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16(static_cast<int16_t>(0x8000))), _mm_set1_epi16(0x7e00));
    return _mm_blendv_epi8(h, canonical, is_nan);
  }
};

struct BFloat16Codec {
  RINGLEADER_SIMD16 static __m256 Widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  // FloatToBFloat16 on 8 lanes: round to nearest even, NaN -> (x >> 16) | 0x40.
  RINGLEADER_SIMD16 static __m128i Round(__m256 values) {
    const __m256i f = _mm256_castps_si256(values);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(f, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(0x40));
    const __m256i is_nan =
        _mm256_cmpgt_epi32(_mm256_and_si256(f, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    const __m256i lanes = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);  // each <= 0xffff
    // packus works within 128-bit halves: 64-bit words 0 and 2 hold lanes 0-3 and 4-7.
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(lanes, lanes), 0x08));
  }
};

template <typename Codec, int N>
RINGLEADER_SIMD16 size_t SumSixteens(uint16_t* dst, const uint16_t* const* s, size_t count, int divisor) {
  const uint16_t* src[N];
  for (int k = 0; k < N; ++k) src[k] = s[k];
  const __m256 d = _mm256_set1_ps(static_cast<float>(divisor));
  const size_t vector_count = count / 8 * 8;
  // dst may be one of the sources: every lane is loaded before its store.
  for (size_t i = 0; i < vector_count; i += 8) {
    __m128i acc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[0] + i));
    for (int k = 1; k < N; ++k) {
      const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k] + i));
      acc = Codec::Round(_mm256_add_ps(Codec::Widen(acc), Codec::Widen(next)));
    }
    if (divisor > 1) acc = Codec::Round(_mm256_div_ps(Codec::Widen(acc), d));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), acc);
  }
  return vector_count;
}

#undef RINGLEADER_SIMD16

bool CpuHasAvx2AndF16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

}  // namespace

size_t Reduce16WithSimd(DataType type, uint16_t* dst, const uint16_t* const* sources, int n, size_t count,
                        int divisor) {
  static const bool available = CpuHasAvx2AndF16c();
  if (!available || n < 1 || n > kMaxSourcesPerPass) return 0;
  return WithSourceCount(n, [&](auto n_sources) -> size_t {
    if (type == DataType::kFloat16) return SumSixteens<HalfCodec, decltype(n_sources)::value>(dst, sources, count, divisor);
    if (type == DataType::kBFloat16) return SumSixteens<BFloat16Codec, decltype(n_sources)::value>(dst, sources, count, divisor);
    return 0;
  });
}
#else
size_t Reduce16WithSimd(DataType, uint16_t*, const uint16_t* const*, int, size_t, int) { return 0; }
#endif

}  // namespace ringleader::runtime
