#pragma once
// CUDA kernels of the GPU gradient path (compiled only when CUDA is found), correct for any
// size and alignment and asynchronous on `stream`. The batched copy peels a scalar head up to
// the first 16-byte boundary, moves the body in 16-byte vectors when source and destination are
// equally far from a boundary, and finishes with a scalar tail; LayOutBucket puts every bucket
// slot at its gradient's 16-byte phase, so packing and unpacking fp32 gradients is always
// vectorised. (Averaging itself is NCCL's: ncclAvg.)
//
// CudaBucketOps packs/unpacks fusion buckets with ONE batched launch per bucket (a device
// table of {src, dst, count}), so 1000 small gradients cost one launch, not 1000.
// Thread-safety: the launch functions are reentrant; a CudaBucketOps is used by one thread.

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "ringleader/common/status.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#include "ringleader/runtime/cuda/cuda_check.h"

namespace ringleader::runtime {

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
