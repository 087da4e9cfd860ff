#include "ringleader/runtime/cuda/cuda_kernels.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "aligned_vectors.cuh"

namespace ringleader::runtime {

namespace {

// blockIdx.y picks the table entry; x blocks stride over it.
__global__ void BatchedCopyKernel(const CopyDescriptor* table, int num_copies) {
  for (int c = blockIdx.y; c < num_copies; c += gridDim.y) {
    const CopyDescriptor d = table[c];
    CopyRange(d.dst, d.src, d.count, blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x,
              static_cast<size_t>(gridDim.x) * blockDim.x);
  }
}

}  // namespace

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
