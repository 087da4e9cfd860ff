#pragma once
// The rank-dependent input of every collective check (benches and tests alike): values whose
// sums and averages are exactly representable in every dtype (bf16 included: |partial sums| <
// 256), so a result is compared for exact equality, never within a tolerance.
//
// Contract: element i of rank r is a multiple of the world size in [-2n, 2n], so the average is
// an integer. Pure functions; safe from any thread.

#include <cstdint>
#include <string>
#include <vector>

#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::harness {

using runtime::DataType;
using runtime::ReduceOp;

// Element i of `rank`'s input.
int64_t InputValue(int rank, int world_size, size_t i);

// Element i of the reduction of every rank's input.
int64_t ExpectedValue(int world_size, size_t i, ReduceOp op);

// Element i of `buffer`, written / read as `type`.
void StoreValue(void* buffer, size_t i, DataType type, int64_t v);
double LoadValue(const void* buffer, size_t i, DataType type);

// Writes `rank`'s input into the first `count` elements of `buffer`.
void FillInput(void* buffer, size_t count, DataType type, int rank, int world_size);

// `rank`'s input in a new buffer (one spare byte, so a zero count still has a data pointer).
std::vector<char> MakeInput(int rank, int world_size, size_t count, DataType type);

// "" when every element is exact, else a description of the first mismatch.
std::string CheckResult(const void* buffer, int world_size, size_t count, DataType type,
                        ReduceOp op);

}  // namespace ringleader::harness
