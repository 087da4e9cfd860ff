#pragma once
// Element types and reduction operators understood by every Communicator backend, plus the
// CPU reduction kernels the CPU backends (TCP ring, shared memory, MPI fp16/bf16) share.
//
// fp16 and bf16 are reduced by widening to fp32 per element and rounding back
// (round-to-nearest-even), like NCCL does. Integer averages truncate toward zero.
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringleader/common/status.h"

namespace ringleader::runtime {

enum class DataType { kFloat32, kFloat64, kFloat16, kBFloat16, kInt32, kInt64 };
enum class ReduceOp { kSum, kAverage };

size_t DataTypeSize(DataType type);
const char* DataTypeName(DataType type);
StatusOr<DataType> ParseDataType(std::string_view name);
const char* ReduceOpName(ReduceOp op);

// IEEE binary16 / bfloat16 conversions (round to nearest even, NaN preserved).
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBFloat16(float value);
float BFloat16ToFloat(uint16_t bits);

// dst[i] = dst[i] + src[i]; when divisor > 1 the result is divided by divisor (average).
void ReduceInto(void* dst, const void* src, size_t count, DataType type, int divisor = 1);
// dst[i] = (sources[0][i] + ... + sources[n-1][i]) / divisor, summed in source order.
// dst may alias one of the sources.
void ReduceSources(void* dst, const void* const* sources, int num_sources, size_t count,
                   DataType type, int divisor = 1);
// buf[i] /= divisor.
void DivideInPlace(void* buf, size_t count, DataType type, int divisor);

}  // namespace ringleader::runtime
