#include "ringleader/runtime/cuda/cuda_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

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

__global__ void CopyKernel(float* dst, const float* src, size_t count) {
  CopyRange(dst, src, count, blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x,
            static_cast<size_t>(gridDim.x) * blockDim.x);
}

// blockIdx.y picks the table entry; x blocks stride over it.
__global__ void BatchedCopyKernel(const CopyDescriptor* table, int num_copies) {
  for (int c = blockIdx.y; c < num_copies; c += gridDim.y) {
    const CopyDescriptor d = table[c];
    CopyRange(d.dst, d.src, d.count, blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x,
              static_cast<size_t>(gridDim.x) * blockDim.x);
  }
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

Status LaunchBatchedCopy(const CopyDescriptor* device_table, int num_copies, size_t max_count,
                         cudaStream_t stream) {
  if (num_copies == 0) return Status::Ok();
  const int x_blocks = std::max(1, std::min(BlocksFor(max_count / 4 + 1), 64));
  dim3 grid(x_blocks, std::min(num_copies, 65535));
  BatchedCopyKernel<<<grid, kThreads, 0, stream>>>(device_table, num_copies);
  RL_CUDA_CHECK(cudaGetLastError());
  return Status::Ok();
}

namespace {

class CudaBucketOps : public BucketOps {
 public:
  CudaBucketOps(cudaStream_t stream, int device) : stream_(stream), device_(device) {}
  ~CudaBucketOps() override {
    if (device_table_ != nullptr) cudaFree(device_table_);
    if (host_table_ != nullptr) cudaFreeHost(host_table_);
    if (legacy_done_ != nullptr) cudaEventDestroy(legacy_done_);
  }

  void* Allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      (void)cudaGetLastError();  // out of memory is not sticky; do not leave it for the next check
      return nullptr;
    }
    // Zeroed padding: it is all-reduced with the slots. On our stream, so it is ordered
    // before the first pack.
    if (cudaMemsetAsync(p, 0, bytes, stream_) != cudaSuccess) {
      cudaFree(p);
      return nullptr;
    }
    return p;
  }
  void Free(void* ptr) override { cudaFree(ptr); }

  Status Pack(float* bucket, const BucketSlots& slots) override {
    return Run(bucket, slots, /*pack=*/true);
  }
  Status Unpack(const float* bucket, const BucketSlots& slots) override {
    return Run(const_cast<float*>(bucket), slots, /*pack=*/false);
  }
  Status Synchronize() override {
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  Status BindThread() override {
    RL_CUDA_CHECK(cudaSetDevice(device_));
    return Status::Ok();
  }

 private:
  Status Run(float* bucket, const BucketSlots& slots, bool pack) {
    const size_t n = slots.pieces.size();
    // The previous table may still be read by an in-flight launch, and host_table_ is
    // rewritten below: the last upload from it must have completed.
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    // Work on the legacy default stream (a plain cudaMemcpy or cudaMemset, a stream-0 kernel)
    // that touches the gradients must be done first: our stream may be non-blocking, which
    // does not wait for it.
    if (legacy_done_ == nullptr) {
      RL_CUDA_CHECK(cudaEventCreateWithFlags(&legacy_done_, cudaEventDisableTiming));
    }
    RL_CUDA_CHECK(cudaEventRecord(legacy_done_, cudaStreamLegacy));
    RL_CUDA_CHECK(cudaStreamWaitEvent(stream_, legacy_done_, 0));
    if (n > capacity_) {
      if (device_table_ != nullptr) cudaFree(device_table_);
      if (host_table_ != nullptr) cudaFreeHost(host_table_);
      device_table_ = nullptr;
      host_table_ = nullptr;
      capacity_ = 0;
      RL_CUDA_CHECK(cudaMalloc(&device_table_, n * sizeof(CopyDescriptor)));
      RL_CUDA_CHECK(cudaMallocHost(&host_table_, n * sizeof(CopyDescriptor)));
      capacity_ = n;
    }
    size_t max_count = 0;
    for (size_t i = 0; i < n; ++i) {
      float* slot = bucket + slots.offsets[i];
      host_table_[i] = pack ? CopyDescriptor{slots.pieces[i], slot, slots.counts[i]}
                            : CopyDescriptor{slot, slots.pieces[i], slots.counts[i]};
      max_count = std::max(max_count, slots.counts[i]);
    }
    RL_CUDA_CHECK(cudaMemcpyAsync(device_table_, host_table_, n * sizeof(CopyDescriptor),
                                  cudaMemcpyHostToDevice, stream_));
    return LaunchBatchedCopy(device_table_, static_cast<int>(n), max_count, stream_);
  }

  cudaStream_t stream_;
  int device_;
  CopyDescriptor* device_table_ = nullptr;
  CopyDescriptor* host_table_ = nullptr;
  size_t capacity_ = 0;
  cudaEvent_t legacy_done_ = nullptr;
};

}  // namespace

StatusOr<std::unique_ptr<BucketOps>> MakeCudaBucketOps(cudaStream_t stream) {
  int device = 0;
  RL_CUDA_CHECK(cudaGetDevice(&device));
  return std::unique_ptr<BucketOps>(std::make_unique<CudaBucketOps>(stream, device));
}

}  // namespace ringleader::runtime
