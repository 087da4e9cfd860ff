#pragma once
// Element-wise CUDA kernels that only the GPU tests use (the gradient path needs the batched
// copy of cuda_kernels.h alone): they exercise the 16-byte head/body/tail split of
// aligned_vectors.cuh for every size and (mis)alignment, and scale a packed bucket. Each is
// asynchronous on `stream`.
//
// Thread-safety: reentrant.

#include <cuda_runtime.h>

#include <cstddef>

#include "ringleader/common/status.h"
#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::runtime {

// dst[i] = src[i] for count floats; vector body when dst and src share their 16-byte phase.
Status LaunchCopy(float* dst, const float* src, size_t count, cudaStream_t stream);
// buf[i] *= factor for count elements of type (fp32, fp16, bf16; others: kInvalidArgument),
// always vectorised.
Status LaunchScale(void* buf, size_t count, DataType type, float factor, cudaStream_t stream);
// dst[i] = (a[i] + b[i]) * factor (fp32); vector body when the three share their phase.
Status LaunchAverage2(float* dst, const float* a, const float* b, size_t count, float factor,
                      cudaStream_t stream);

}  // namespace ringleader::runtime
