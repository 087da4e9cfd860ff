#pragma once
// The check macros of the GPU path, written once (after NCCL's src/include/checks.h): each
// returns InternalError("file:line: expr: <the library's text>") from the enclosing
// Status-returning function when a CUDA, cuBLAS or NCCL call fails. The macros name the
// libraries' types and functions only where they are used, so this header needs none of them:
// include <cuda_runtime.h>, <cublas_v2.h> or <nccl.h> next to it, as the caller already does.
//
// Thread-safety: stateless.

#include <string>

#include "ringleader/common/status.h"

namespace ringleader::runtime {

// The Status a failed check returns.
inline Status GpuCallFailed(const char* file, int line, const char* expr, const std::string& what) {
  return InternalError(std::string(file) + ":" + std::to_string(line) + ": " + expr + ": " + what);
}

}  // namespace ringleader::runtime

#define RL_CUDA_CHECK(expr)                                                                  \
  do {                                                                                       \
    cudaError_t rl_cuda_err_ = (expr);                                                       \
    if (rl_cuda_err_ != cudaSuccess) {                                                       \
      return ::ringleader::runtime::GpuCallFailed(__FILE__, __LINE__, #expr,                 \
                                                  cudaGetErrorString(rl_cuda_err_));         \
    }                                                                                        \
  } while (0)

#define RL_CUBLAS_CHECK(expr)                                                                \
  do {                                                                                       \
    cublasStatus_t rl_cublas_st_ = (expr);                                                   \
    if (rl_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                            \
      return ::ringleader::runtime::GpuCallFailed(__FILE__, __LINE__, #expr " failed",       \
                                                  std::to_string(static_cast<int>(rl_cublas_st_))); \
    }                                                                                        \
  } while (0)

// ncclInProgress is not a failure: non-blocking communicators return it while an operation is
// pending (poll ncclCommGetAsyncError).
#define RL_NCCL_CHECK(expr)                                                                  \
  do {                                                                                       \
    ncclResult_t rl_nccl_res_ = (expr);                                                      \
    if (rl_nccl_res_ != ncclSuccess && rl_nccl_res_ != ncclInProgress) {                     \
      return ::ringleader::runtime::GpuCallFailed(__FILE__, __LINE__, #expr,                 \
                                                  ncclGetErrorString(rl_nccl_res_));         \
    }                                                                                        \
  } while (0)
