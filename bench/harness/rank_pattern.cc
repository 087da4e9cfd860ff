#include "rank_pattern.h"

namespace ringleader::harness {

int64_t InputValue(int rank, int world_size, size_t i) {
  return static_cast<int64_t>(world_size) * static_cast<int64_t>((i * 3 + rank * 5) % 5) -
         2 * static_cast<int64_t>(world_size);
}

int64_t ExpectedValue(int world_size, size_t i, ReduceOp op) {
  int64_t sum = 0;
  for (int r = 0; r < world_size; ++r) sum += InputValue(r, world_size, i);
  return op == ReduceOp::kSum ? sum : sum / world_size;
}

void StoreValue(void* buffer, size_t i, DataType type, int64_t v) {
  switch (type) {
    case DataType::kFloat32: static_cast<float*>(buffer)[i] = static_cast<float>(v); break;
    case DataType::kFloat64: static_cast<double*>(buffer)[i] = static_cast<double>(v); break;
    case DataType::kInt32: static_cast<int32_t*>(buffer)[i] = static_cast<int32_t>(v); break;
    case DataType::kInt64: static_cast<int64_t*>(buffer)[i] = v; break;
    case DataType::kFloat16:
      static_cast<uint16_t*>(buffer)[i] = runtime::FloatToHalf(static_cast<float>(v));
      break;
    case DataType::kBFloat16:
      static_cast<uint16_t*>(buffer)[i] = runtime::FloatToBFloat16(static_cast<float>(v));
      break;
  }
}

double LoadValue(const void* buffer, size_t i, DataType type) {
  switch (type) {
    case DataType::kFloat32: return static_cast<const float*>(buffer)[i];
    case DataType::kFloat64: return static_cast<const double*>(buffer)[i];
    case DataType::kInt32: return static_cast<const int32_t*>(buffer)[i];
    case DataType::kInt64: return static_cast<double>(static_cast<const int64_t*>(buffer)[i]);
    case DataType::kFloat16: return runtime::HalfToFloat(static_cast<const uint16_t*>(buffer)[i]);
    case DataType::kBFloat16:
      return runtime::BFloat16ToFloat(static_cast<const uint16_t*>(buffer)[i]);
  }
  return 0;
}

void FillInput(void* buffer, size_t count, DataType type, int rank, int world_size) {
  for (size_t i = 0; i < count; ++i) StoreValue(buffer, i, type, InputValue(rank, world_size, i));
}

std::vector<char> MakeInput(int rank, int world_size, size_t count, DataType type) {
  std::vector<char> buffer(count * runtime::DataTypeSize(type) + 1);
  FillInput(buffer.data(), count, type, rank, world_size);
  return buffer;
}

std::string CheckResult(const void* buffer, int world_size, size_t count, DataType type,
                        ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    const double got = LoadValue(buffer, i, type);
    const double want = static_cast<double>(ExpectedValue(world_size, i, op));
    if (got != want) {
      return std::string(runtime::DataTypeName(type)) + " " + runtime::ReduceOpName(op) +
             " count=" + std::to_string(count) + ": element " + std::to_string(i) + " is " +
             std::to_string(got) + ", want " + std::to_string(want);
    }
  }
  return "";
}

}  // namespace ringleader::harness
