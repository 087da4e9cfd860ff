#pragma once
// The cases every collective test runs (gtest collective tests, the gtest-free MPI and CUDA
// tests): all dtypes and the element counts that reach each edge of the schedules. Inputs are
// the harness's rank pattern (bench/harness/rank_pattern.h): exact in every dtype, so results
// are compared for exact equality.

#include <vector>

#include "rank_pattern.h"
#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::runtime::testing {

// The input pattern and its exact check are the collective harness's, shared with the benches.
using harness::CheckResult;
using harness::ExpectedValue;
using harness::InputValue;
using harness::LoadValue;
using harness::MakeInput;
using harness::StoreValue;

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
