#pragma once
// Shared by the gtest collective tests and the gtest-free MPI test: input values whose sums and
// averages are exactly representable in every dtype (bf16 included: |partial sums| < 256), so
// results are compared for exact equality.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::runtime::testing {

// Element i of rank r: a multiple of world_size in [-2n, 2n], so the average is an integer.
inline int64_t InputValue(int rank, int world_size, size_t i) {
  return static_cast<int64_t>(world_size) * static_cast<int64_t>((i * 3 + rank * 5) % 5) -
         2 * static_cast<int64_t>(world_size);
}

inline int64_t ExpectedValue(int world_size, size_t i, ReduceOp op) {
  int64_t sum = 0;
  for (int r = 0; r < world_size; ++r) sum += InputValue(r, world_size, i);
  return op == ReduceOp::kSum ? sum : sum / world_size;
}

inline void StoreValue(void* buffer, size_t i, DataType type, int64_t v) {
  switch (type) {
    case DataType::kFloat32: static_cast<float*>(buffer)[i] = static_cast<float>(v); break;
    case DataType::kFloat64: static_cast<double*>(buffer)[i] = static_cast<double>(v); break;
    case DataType::kInt32: static_cast<int32_t*>(buffer)[i] = static_cast<int32_t>(v); break;
    case DataType::kInt64: static_cast<int64_t*>(buffer)[i] = v; break;
    case DataType::kFloat16:
      static_cast<uint16_t*>(buffer)[i] = FloatToHalf(static_cast<float>(v));
      break;
    case DataType::kBFloat16:
      static_cast<uint16_t*>(buffer)[i] = FloatToBFloat16(static_cast<float>(v));
      break;
  }
}

inline double LoadValue(const void* buffer, size_t i, DataType type) {
  switch (type) {
    case DataType::kFloat32: return static_cast<const float*>(buffer)[i];
    case DataType::kFloat64: return static_cast<const double*>(buffer)[i];
    case DataType::kInt32: return static_cast<const int32_t*>(buffer)[i];
    case DataType::kInt64: return static_cast<double>(static_cast<const int64_t*>(buffer)[i]);
    case DataType::kFloat16: return HalfToFloat(static_cast<const uint16_t*>(buffer)[i]);
    case DataType::kBFloat16: return BFloat16ToFloat(static_cast<const uint16_t*>(buffer)[i]);
  }
  return 0;
}

inline std::vector<char> MakeInput(int rank, int world_size, size_t count, DataType type) {
  std::vector<char> buffer(count * DataTypeSize(type) + 1);
  for (size_t i = 0; i < count; ++i) StoreValue(buffer.data(), i, type, InputValue(rank, world_size, i));
  return buffer;
}

// "" when every element is exact, else a description of the first mismatch.
inline std::string CheckResult(const void* buffer, int world_size, size_t count, DataType type,
                               ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    const double got = LoadValue(buffer, i, type);
    const double want = static_cast<double>(ExpectedValue(world_size, i, op));
    if (got != want) {
      return std::string(DataTypeName(type)) + " " + ReduceOpName(op) + " count=" +
             std::to_string(count) + ": element " + std::to_string(i) + " is " +
             std::to_string(got) + ", want " + std::to_string(want);
    }
  }
  return "";
}

inline const std::vector<DataType>& AllDataTypes() {
  static const std::vector<DataType> types = {DataType::kFloat32, DataType::kFloat64,
                                              DataType::kFloat16, DataType::kBFloat16,
                                              DataType::kInt32,   DataType::kInt64};
  return types;
}

// 0, 1, fewer than the ranks, odd, and large enough for several pipeline / staging chunks.
inline const std::vector<size_t>& CollectiveCounts() {
  static const std::vector<size_t> counts = {0, 1, 5, 1001, (1u << 18) + 3};
  return counts;
}

}  // namespace ringleader::runtime::testing
