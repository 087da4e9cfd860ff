#include "cuda_reference_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "aligned_vectors.cuh"
#include "ringleader/runtime/cuda/cuda_check.h"

namespace ringleader::runtime {

namespace {

__global__ void CopyKernel(float* dst, const float* src, size_t count) {
  CopyRange(dst, src, count, blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x,
            static_cast<size_t>(gridDim.x) * blockDim.x);
}

__device__ float ToFloat(float x) { return x; }
__device__ float ToFloat(__half x) { return __half2float(x); }
__device__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T>
__device__ T FromFloat(float x);
template <>
__device__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __half FromFloat<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// x * factor in fp32, rounded to T to nearest even: the same per element in head, body, tail.
template <typename T>
__device__ T Scaled(T x, float factor) {
  return FromFloat<T>(ToFloat(x) * factor);
}

// buf[i] *= factor: scalar head up to a 16-byte boundary, 16-byte vectors (4 fp32 or 8
// fp16/bf16 elements), scalar tail; any size and alignment.
template <typename T>
__global__ void ScaleKernel(T* buf, size_t count, float factor) {
  constexpr size_t kPerVector = 16 / sizeof(T);
  const size_t tid = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t head = HeadElements(buf, sizeof(T), count);
  for (size_t i = tid; i < head; i += stride) buf[i] = Scaled(buf[i], factor);
  const size_t body = (count - head) / kPerVector;
  uint4* vectors = reinterpret_cast<uint4*>(buf + head);
  for (size_t i = tid; i < body; i += stride) {
    uint4 v = vectors[i];
    T* elements = reinterpret_cast<T*>(&v);
#pragma unroll
    for (size_t k = 0; k < kPerVector; ++k) elements[k] = Scaled(elements[k], factor);
    vectors[i] = v;
  }
  for (size_t i = head + body * kPerVector + tid; i < count; i += stride)
    buf[i] = Scaled(buf[i], factor);
}

// dst[i] = (a[i] + b[i]) * factor; vector body when the three pointers share their 16-byte
// alignment phase (e.g. equal offsets into cudaMalloc'd buffers), scalar otherwise.
__global__ void Average2Kernel(float* __restrict__ dst, const float* __restrict__ a,
                               const float* __restrict__ b, size_t count, float factor) {
  const size_t tid = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t head =
      SamePhase16(dst, a) && SamePhase16(dst, b) ? HeadElements(dst, sizeof(float), count) : count;
  for (size_t i = tid; i < head; i += stride) dst[i] = (a[i] + b[i]) * factor;
  const size_t body = (count - head) / 4;
  const float4* a4 = reinterpret_cast<const float4*>(a + head);
  const float4* b4 = reinterpret_cast<const float4*>(b + head);
  float4* d4 = reinterpret_cast<float4*>(dst + head);
  for (size_t i = tid; i < body; i += stride) {
    const float4 x = a4[i], y = b4[i];
    d4[i] = make_float4((x.x + y.x) * factor, (x.y + y.y) * factor, (x.z + y.z) * factor,
                        (x.w + y.w) * factor);
  }
  for (size_t i = head + body * 4 + tid; i < count; i += stride) dst[i] = (a[i] + b[i]) * factor;
}

}  // namespace

Status LaunchCopy(float* dst, const float* src, size_t count, cudaStream_t stream) {
  if (count == 0) return Status::Ok();
  CopyKernel<<<BlocksFor(count / 4 + 1), kThreads, 0, stream>>>(dst, src, count);
  RL_CUDA_CHECK(cudaGetLastError());
  return Status::Ok();
}

Status LaunchScale(void* buf, size_t count, DataType type, float factor, cudaStream_t stream) {
  if (count == 0) return Status::Ok();
  switch (type) {
    case DataType::kFloat32:
      ScaleKernel<<<BlocksFor(count / 4 + 1), kThreads, 0, stream>>>(static_cast<float*>(buf),
                                                                     count, factor);
      break;
    case DataType::kFloat16:
      ScaleKernel<<<BlocksFor(count / 8 + 1), kThreads, 0, stream>>>(static_cast<__half*>(buf),
                                                                     count, factor);
      break;
    case DataType::kBFloat16:
      ScaleKernel<<<BlocksFor(count / 8 + 1), kThreads, 0, stream>>>(
          static_cast<__nv_bfloat16*>(buf), count, factor);
      break;
    default:
      return InvalidArgumentError(std::string("LaunchScale: unsupported dtype ") + DataTypeName(type));
  }
  RL_CUDA_CHECK(cudaGetLastError());
  return Status::Ok();
}

Status LaunchAverage2(float* dst, const float* a, const float* b, size_t count, float factor,
                      cudaStream_t stream) {
  if (count == 0) return Status::Ok();
  Average2Kernel<<<BlocksFor(count / 4 + 1), kThreads, 0, stream>>>(dst, a, b, count, factor);
  RL_CUDA_CHECK(cudaGetLastError());
  return Status::Ok();
}

}  // namespace ringleader::runtime
