#pragma once
// The fp16 and bf16 multi-source reduces on x86 vector instructions (AVX2 + F16C), where the CPU
// has them; dtype.cc's ReduceSources uses them and does the rest itself.

#include <cstddef>
#include <cstdint>

#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::runtime {

// For type kFloat16 or kBFloat16: dst[i] = round16(...round16(round16(s[0][i] + s[1][i]) +
// s[2][i])...), then round16(that / divisor) when divisor > 1, for the leading multiple of 8
// elements, bit-identical to the portable path (FloatToHalf / FloatToBFloat16, whose NaNs are
// 0x7e00 | sign and (x >> 16) | 0x40). Returns how many elements it reduced: 0 when the CPU lacks
// AVX2 or F16C, when n is outside 1..8, for another type, or off x86-64.
size_t Reduce16WithSimd(DataType type, uint16_t* dst, const uint16_t* const* sources, int n, size_t count,
                        int divisor);

}  // namespace ringleader::runtime
