#pragma once
// CUDA kernels of the GPU gradient path (compiled only when CUDA is found), correct for any
// size and alignment and asynchronous on `stream`. Each peels a scalar head up to the first
// 16-byte boundary, moves the body in 16-byte vectors and finishes with a scalar tail. The
// in-place scale (fp32/fp16/bf16) is always vectorised; copy and the two-input average are
// when their pointers are equally far from a 16-byte boundary, and scalar otherwise. The
// gradient path only uses the (batched) copy, and LayOutBucket puts every bucket slot at its
// gradient's 16-byte phase, so packing and unpacking fp32 gradients is always vectorised. Scale
// and the two-input average are not on the gradient path (NCCL's ncclAvg averages); they are
// kept, tested, for callers that reduce on their own.
//
// CudaBucketOps packs/unpacks fusion buckets with ONE batched launch per bucket (a device
// table of {src, dst, count}), so 1000 small gradients cost one launch, not 1000.
// Thread-safety: the launch functions are reentrant; a CudaBucketOps is used by one thread.

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "ringleader/common/status.h"
#include "ringleader/runtime/collectives/dtype.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#include "ringleader/runtime/cuda/cuda_check.h"

namespace ringleader::runtime {

// dst[i] = src[i] for count floats.
Status LaunchCopy(float* dst, const float* src, size_t count, cudaStream_t stream);
// buf[i] *= factor for count elements of type (fp32, fp16, bf16; others: kInvalidArgument).
Status LaunchScale(void* buf, size_t count, DataType type, float factor, cudaStream_t stream);
// dst[i] = (a[i] + b[i]) * factor (fp32): the fused "average two partial sums" kernel.
Status LaunchAverage2(float* dst, const float* a, const float* b, size_t count, float factor,
                      cudaStream_t stream);

struct CopyDescriptor {
  const float* src;
  float* dst;
  size_t count;
};
// Runs every copy of the table (in device memory) in one launch.
Status LaunchBatchedCopy(const CopyDescriptor* device_table, int num_copies, size_t max_count,
                         cudaStream_t stream);

// BucketOps for device memory on `stream`, bound to the current device (BindThread selects it
// on the averager's thread); Synchronize() waits for that stream. Work queued before MarkReady
// on `stream` or on the legacy default stream (a plain cudaMemcpy, a stream-0 kernel, any
// blocking stream) is ordered before the bucket's pack and unpack.
StatusOr<std::unique_ptr<BucketOps>> MakeCudaBucketOps(cudaStream_t stream);

}  // namespace ringleader::runtime
