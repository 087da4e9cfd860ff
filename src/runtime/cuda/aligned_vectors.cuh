#pragma once
// Device helpers of the kernels that move floats in 16-byte vectors: a scalar head up to the
// first 16-byte boundary, a body of vectors, a scalar tail, so any size and alignment is
// correct and the aligned common case is fast. Shared by the product's kernels
// (cuda_kernels.cu) and the reference kernels of tests/runtime.
//
// Thread-safety: device code, stateless.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ringleader::runtime {
namespace {

constexpr int kThreads = 256;

int BlocksFor(size_t work_items) {
  // Grid-stride loops: enough blocks to fill an H100 (132 SMs x several blocks), no more.
  const size_t blocks = (work_items + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(blocks, 132 * 8)));
}

// Elements before the first 16-byte boundary of p (at most count): the scalar head in front
// of a body of 16-byte vectors. count (all scalar) when p is not even element-aligned.
__device__ size_t HeadElements(const void* p, size_t element_bytes, size_t count) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  if (address % element_bytes != 0) return count;
  const size_t head = ((16u - (address & 15u)) & 15u) / element_bytes;
  return head < count ? head : count;
}

// True when p and q are equally far from a 16-byte boundary: one head then aligns both.
__device__ bool SamePhase16(const void* p, const void* q) {
  return ((reinterpret_cast<uintptr_t>(p) ^ reinterpret_cast<uintptr_t>(q)) & 15u) == 0;
}

// Copies count floats; vector body when src and dst share their 16-byte alignment phase.
__device__ void CopyRange(float* __restrict__ dst, const float* __restrict__ src, size_t count,
                          size_t tid, size_t stride) {
  const size_t head = SamePhase16(dst, src) ? HeadElements(dst, sizeof(float), count) : count;
  for (size_t i = tid; i < head; i += stride) dst[i] = src[i];
  const size_t body = (count - head) / 4;
  const float4* s4 = reinterpret_cast<const float4*>(src + head);
  float4* d4 = reinterpret_cast<float4*>(dst + head);
  for (size_t i = tid; i < body; i += stride) d4[i] = s4[i];
  for (size_t i = head + body * 4 + tid; i < count; i += stride) dst[i] = src[i];
}

}  // namespace
}  // namespace ringleader::runtime
