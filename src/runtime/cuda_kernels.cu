#include "ringleader/runtime/cuda_kernels.h"

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

bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Copies count floats; vector body when src and dst share 16-byte alignment phase.
__device__ void CopyRange(float* __restrict__ dst, const float* __restrict__ src, size_t count,
                          size_t tid, size_t stride) {
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst);
  const uintptr_t s = reinterpret_cast<uintptr_t>(src);
  if (((d ^ s) & 15u) == 0) {
    // Scalar head up to the first 16-byte boundary, float4 body, scalar tail.
    size_t head = ((16u - (d & 15u)) & 15u) / sizeof(float);
    if (head > count) head = count;
    for (size_t i = tid; i < head; i += stride) dst[i] = src[i];
    const size_t body = (count - head) / 4;
    const float4* s4 = reinterpret_cast<const float4*>(src + head);
    float4* d4 = reinterpret_cast<float4*>(dst + head);
    for (size_t i = tid; i < body; i += stride) d4[i] = s4[i];
    for (size_t i = head + body * 4 + tid; i < count; i += stride) dst[i] = src[i];
  } else {
    for (size_t i = tid; i < count; i += stride) dst[i] = src[i];
  }
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

__global__ void ScaleFloatKernel(float* buf, size_t count, float factor, bool vector) {
  const size_t tid = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t done = 0;
  if (vector) {
    float4* b4 = reinterpret_cast<float4*>(buf);
    const size_t n4 = count / 4;
    for (size_t i = tid; i < n4; i += stride) {
      float4 v = b4[i];
      v.x *= factor;
      v.y *= factor;
      v.z *= factor;
      v.w *= factor;
      b4[i] = v;
    }
    done = n4 * 4;
  }
  for (size_t i = done + tid; i < count; i += stride) buf[i] *= factor;
}

__global__ void ScaleHalfKernel(__half* buf, size_t count, float factor) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    buf[i] = __float2half_rn(__half2float(buf[i]) * factor);
  }
}

__global__ void ScaleBf16Kernel(__nv_bfloat16* buf, size_t count, float factor) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += stride) {
    buf[i] = __float2bfloat16_rn(__bfloat162float(buf[i]) * factor);
  }
}

__global__ void Average2Kernel(float* __restrict__ dst, const float* __restrict__ a,
                               const float* __restrict__ b, size_t count, float factor, bool vector) {
  const size_t tid = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t done = 0;
  if (vector) {
    const size_t n4 = count / 4;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (size_t i = tid; i < n4; i += stride) {
      const float4 x = a4[i], y = b4[i];
      d4[i] = make_float4((x.x + y.x) * factor, (x.y + y.y) * factor, (x.z + y.z) * factor,
                          (x.w + y.w) * factor);
    }
    done = n4 * 4;
  }
  for (size_t i = done + tid; i < count; i += stride) dst[i] = (a[i] + b[i]) * factor;
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
      ScaleFloatKernel<<<BlocksFor(count / 4 + 1), kThreads, 0, stream>>>(
          static_cast<float*>(buf), count, factor, Aligned16(buf));
      break;
    case DataType::kFloat16:
      ScaleHalfKernel<<<BlocksFor(count), kThreads, 0, stream>>>(static_cast<__half*>(buf), count, factor);
      break;
    case DataType::kBFloat16:
      ScaleBf16Kernel<<<BlocksFor(count), kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(buf), count,
                                                                 factor);
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
  const bool vector = Aligned16(dst) && Aligned16(a) && Aligned16(b);
  Average2Kernel<<<BlocksFor(count / 4 + 1), kThreads, 0, stream>>>(dst, a, b, count, factor, vector);
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
  explicit CudaBucketOps(cudaStream_t stream) : stream_(stream) {}
  ~CudaBucketOps() override {
    if (device_table_ != nullptr) cudaFree(device_table_);
    if (host_table_ != nullptr) cudaFreeHost(host_table_);
  }

  void* Allocate(size_t bytes) override {
    void* p = nullptr;
    return cudaMalloc(&p, bytes) == cudaSuccess ? p : nullptr;
  }
  void Free(void* ptr) override { cudaFree(ptr); }

  Status Pack(float* bucket, const std::vector<float*>& pieces, const std::vector<size_t>& counts) override {
    return Run(bucket, pieces, counts, /*pack=*/true);
  }
  Status Unpack(const float* bucket, const std::vector<float*>& pieces,
                const std::vector<size_t>& counts) override {
    return Run(const_cast<float*>(bucket), pieces, counts, /*pack=*/false);
  }
  Status Synchronize() override {
    RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }

 private:
  Status Run(float* bucket, const std::vector<float*>& pieces, const std::vector<size_t>& counts, bool pack) {
    const size_t n = pieces.size();
    if (n > capacity_) {
      // The previous table may still be read by an in-flight launch.
      RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
      if (device_table_ != nullptr) cudaFree(device_table_);
      if (host_table_ != nullptr) cudaFreeHost(host_table_);
      RL_CUDA_CHECK(cudaMalloc(&device_table_, n * sizeof(CopyDescriptor)));
      RL_CUDA_CHECK(cudaMallocHost(&host_table_, n * sizeof(CopyDescriptor)));
      capacity_ = n;
    } else {
      // host_table_ is rewritten below: the last upload from it must have completed.
      RL_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    size_t offset = 0, max_count = 0;
    for (size_t i = 0; i < n; ++i) {
      float* slot = bucket + offset;
      host_table_[i] = pack ? CopyDescriptor{pieces[i], slot, counts[i]}
                            : CopyDescriptor{slot, pieces[i], counts[i]};
      offset += counts[i];
      max_count = std::max(max_count, counts[i]);
    }
    RL_CUDA_CHECK(cudaMemcpyAsync(device_table_, host_table_, n * sizeof(CopyDescriptor),
                                  cudaMemcpyHostToDevice, stream_));
    return LaunchBatchedCopy(device_table_, static_cast<int>(n), max_count, stream_);
  }

  cudaStream_t stream_;
  CopyDescriptor* device_table_ = nullptr;
  CopyDescriptor* host_table_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace

std::unique_ptr<BucketOps> MakeCudaBucketOps(cudaStream_t stream) {
  return std::make_unique<CudaBucketOps>(stream);
}

}  // namespace ringleader::runtime
