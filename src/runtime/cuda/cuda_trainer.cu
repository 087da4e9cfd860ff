// GPU version of the demo trainer (see trainer.h): same task, same initial weights, same
// sharding; forward/backward with cuBLAS (column-major views of row-major matrices) and small
// kernels, gradients averaged on the device through GradientAverager + CudaBucketOps.
// Compute and packing share one stream; the averager synchronises it before a bucket goes to
// the communicator (NCCL runs on its own stream, waits for the legacy default stream, and
// AllReduce returns when it completed). Every CUDA call, launch and cuBLAS call is checked,
// and the stream, cuBLAS handle and buffers are owned by RAII holders, so an error path leaks
// nothing. scripts/gpu-check.sh compares it with the CPU trainer on one and two ranks.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <cmath>
#include <string>
#include <vector>

#include "ringleader/runtime/cuda/cuda_check.h"
#include "ringleader/runtime/cuda/cuda_kernels.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#include "ringleader/runtime/app/trainer.h"

namespace ringleader::runtime {

namespace {

// z (b x h, row-major) += b1; h = tanh(z).
__global__ void BiasTanhKernel(float* z, const float* b1, int rows, int h) {
  const size_t n = static_cast<size_t>(rows) * h;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    z[i] = tanhf(z[i] + b1[i % h]);
  }
}

// err = y + b2 - target; dy = err / batch.
__global__ void OutputGradKernel(const float* y, const float* b2, const float* target, float* err,
                                 float* dy, int rows, float inv_batch) {
  for (int s = blockIdx.x * blockDim.x + threadIdx.x; s < rows; s += gridDim.x * blockDim.x) {
    const float e = y[s] + b2[0] - target[s];
    err[s] = e;
    dy[s] = e * inv_batch;
  }
}

// dz[s][j] = dy[s] * w2[j] * (1 - h[s][j]^2).
__global__ void HiddenGradKernel(const float* hidden, const float* dy, const float* w2, float* dz,
                                 int rows, int h) {
  const size_t n = static_cast<size_t>(rows) * h;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float a = hidden[i];
    dz[i] = dy[i / h] * w2[i % h] * (1.0f - a * a);
  }
}

// Sum of dy into *out (one block; rows are a batch).
__global__ void SumKernel(const float* v, int n, float* out) {
  __shared__ float partial[256];
  float acc = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) acc += v[i];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = partial[0];
}

int Blocks(size_t n) { return static_cast<int>(std::min<size_t>((n + 255) / 256, 1024)); }

// Device allocations of one training run, zeroed on `stream` (ordered before the work that
// uses them: the stream is non-blocking), freed together.
struct DeviceBuffers {
  cudaStream_t stream;
  std::vector<void*> owned;
  explicit DeviceBuffers(cudaStream_t s) : stream(s) {}
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  ~DeviceBuffers() {
    for (void* p : owned) cudaFree(p);
  }
  template <typename T>
  StatusOr<T*> Alloc(size_t count) {
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(T);
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      (void)cudaGetLastError();
      return InternalError("cudaMalloc of " + std::to_string(bytes) + " bytes failed");
    }
    owned.push_back(p);
    RL_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
    return static_cast<T*>(p);
  }
};

// Owns one CUDA or cuBLAS handle; Destroy runs when the holder leaves scope.
template <typename Handle, auto Destroy>
struct HandleHolder {
  Handle handle = nullptr;
  HandleHolder() = default;
  HandleHolder(const HandleHolder&) = delete;
  HandleHolder& operator=(const HandleHolder&) = delete;
  ~HandleHolder() {
    if (handle != nullptr) Destroy(handle);
  }
};
using StreamHolder = HandleHolder<cudaStream_t, cudaStreamDestroy>;
using CublasHolder = HandleHolder<cublasHandle_t, cublasDestroy>;

// A launch error (bad configuration, no kernel image for this GPU) surfaces at once.
#define RL_CHECK_LAUNCH(kernel) RL_CUDA_CHECK((kernel, cudaGetLastError()))

// Device pointers of one rank's step: weights and gradients in the CPU trainer's flat layout
// [w1 | b1 | w2 | b2], the batch, activations and per-sample errors.
struct GpuStepBuffers {
  float *w1, *b1, *w2, *b2;
  float *g_w1, *g_b1, *g_w2, *g_b2;
  float *x, *target, *hidden, *dz, *y, *err, *dy, *ones;
};

// Forward and backward pass of the batch in m.x / m.target, queued on `stream`: leaves the
// gradients in m.g_* and each sample's error in m.err.
Status ForwardBackwardOnDevice(cublasHandle_t blas, cudaStream_t stream, const GpuStepBuffers& m,
                               int b, int d, int h) {
  const float one = 1.0f, zero = 0.0f;
  // hidden (row-major b x h == column-major h x b) = W1 (row-major h x d) . X^T
  RL_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, h, b, d, &one, m.w1, d, m.x, d, &zero, m.hidden, h));
  RL_CHECK_LAUNCH((BiasTanhKernel<<<Blocks(static_cast<size_t>(b) * h), 256, 0, stream>>>(m.hidden, m.b1, b, h)));
  // y = hidden . w2
  RL_CUBLAS_CHECK(cublasSgemv(blas, CUBLAS_OP_T, h, b, &one, m.hidden, h, m.w2, 1, &zero, m.y, 1));
  RL_CHECK_LAUNCH((OutputGradKernel<<<Blocks(b), 256, 0, stream>>>(m.y, m.b2, m.target, m.err, m.dy, b, 1.0f / b)));
  // g_w2 = hidden^T . dy ; g_b2 = sum dy
  RL_CUBLAS_CHECK(cublasSgemv(blas, CUBLAS_OP_N, h, b, &one, m.hidden, h, m.dy, 1, &zero, m.g_w2, 1));
  RL_CHECK_LAUNCH((SumKernel<<<1, 256, 0, stream>>>(m.dy, b, m.g_b2)));
  RL_CHECK_LAUNCH((HiddenGradKernel<<<Blocks(static_cast<size_t>(b) * h), 256, 0, stream>>>(m.hidden, m.dy, m.w2, m.dz, b, h)));
  // g_w1 (row-major h x d == column-major d x h) = X^T . dz
  RL_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, d, h, b, &one, m.x, d, m.dz, h, &zero, m.g_w1, d));
  // g_b1 = dz^T . ones
  RL_CUBLAS_CHECK(cublasSgemv(blas, CUBLAS_OP_N, h, b, &one, m.dz, h, m.ones, 1, &zero, m.g_b1, 1));
  return Status::Ok();
}

// The mean loss of the batch whose per-sample errors are in `err`, averaged over the ranks.
StatusOr<double> AverageLoss(Communicator& comm, cudaStream_t stream, const float* err, int b,
                             double* d_loss) {
  std::vector<float> host_err(b);
  RL_CUDA_CHECK(cudaMemcpyAsync(host_err.data(), err, b * sizeof(float), cudaMemcpyDeviceToHost, stream));
  RL_CUDA_CHECK(cudaStreamSynchronize(stream));
  double local = 0;
  for (float e : host_err) local += 0.5 * e * e;
  local /= b;
  // The loss is one scalar: average it in device memory like everything else. The copy
  // is on the legacy default stream, which the communicator waits for.
  RL_CUDA_CHECK(cudaMemcpy(d_loss, &local, sizeof(double), cudaMemcpyHostToDevice));
  RETURN_IF_ERROR(comm.AllReduce(d_loss, 1, DataType::kFloat64, ReduceOp::kAverage));
  double loss = 0;
  RL_CUDA_CHECK(cudaMemcpy(&loss, d_loss, sizeof(double), cudaMemcpyDeviceToHost));
  return loss;
}

}  // namespace

StatusOr<TrainerResult> RunGpuTrainer(const TrainerOptions& options, Communicator& comm,
                                      ProgressSink& sink) {
  if (!comm.uses_device_memory()) {
    return InvalidArgumentError("the GPU trainer needs a device-memory communicator (--backend nccl)");
  }
  const int d = options.input_dim, h = options.hidden, b = options.batch_size;
  const int64_t global_batch = static_cast<int64_t>(b) * comm.size();
  const SyntheticTask task(options.seed, d);
  const std::vector<float> init = task.InitialWeights(h);
  const size_t n_w1 = static_cast<size_t>(h) * d;

  // Declared in this order so they are destroyed in reverse: the averager (its thread and
  // fusion buffers) before the buffers it points into, the stream last.
  StreamHolder stream_holder;
  RL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_holder.handle, cudaStreamNonBlocking));
  cudaStream_t stream = stream_holder.handle;
  CublasHolder blas_holder;
  RL_CUBLAS_CHECK(cublasCreate(&blas_holder.handle));
  cublasHandle_t blas = blas_holder.handle;
  RL_CUBLAS_CHECK(cublasSetStream(blas, stream));
  RL_CUBLAS_CHECK(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST));

  DeviceBuffers mem(stream);
  ASSIGN_OR_RETURN(float* weights, mem.Alloc<float>(init.size()));
  ASSIGN_OR_RETURN(float* grads, mem.Alloc<float>(init.size()));
  ASSIGN_OR_RETURN(float* x, mem.Alloc<float>(static_cast<size_t>(b) * d));
  ASSIGN_OR_RETURN(float* target, mem.Alloc<float>(b));
  ASSIGN_OR_RETURN(float* hidden, mem.Alloc<float>(static_cast<size_t>(b) * h));
  ASSIGN_OR_RETURN(float* dz, mem.Alloc<float>(static_cast<size_t>(b) * h));
  ASSIGN_OR_RETURN(float* y, mem.Alloc<float>(b));
  ASSIGN_OR_RETURN(float* err, mem.Alloc<float>(b));
  ASSIGN_OR_RETURN(float* dy, mem.Alloc<float>(b));
  ASSIGN_OR_RETURN(float* ones, mem.Alloc<float>(b));
  ASSIGN_OR_RETURN(double* d_loss, mem.Alloc<double>(1));
  GpuStepBuffers m;
  m.w1 = weights;
  m.b1 = m.w1 + n_w1;
  m.w2 = m.b1 + h;
  m.b2 = m.w2 + h;
  m.g_w1 = grads;
  m.g_b1 = m.g_w1 + n_w1;
  m.g_w2 = m.g_b1 + h;
  m.g_b2 = m.g_w2 + h;
  m.x = x, m.target = target, m.hidden = hidden, m.dz = dz, m.y = y, m.err = err, m.dy = dy, m.ones = ones;
  // On `stream`: a plain cudaMemcpy from pageable memory may return before its DMA landed,
  // and the legacy stream it uses does not order our non-blocking stream.
  RL_CUDA_CHECK(cudaMemcpyAsync(weights, init.data(), init.size() * sizeof(float),
                                cudaMemcpyHostToDevice, stream));
  const std::vector<float> host_ones(b, 1.0f);
  RL_CUDA_CHECK(cudaMemcpyAsync(ones, host_ones.data(), b * sizeof(float), cudaMemcpyHostToDevice, stream));

  GradientAveragerOptions avg_options;
  avg_options.bucket_bytes = options.bucket_bytes;
  // With overlap the averager's thread packs and calls NCCL; CudaBucketOps selects this
  // thread's device there.
  avg_options.overlap = options.overlap;
  ASSIGN_OR_RETURN(std::unique_ptr<BucketOps> ops, MakeCudaBucketOps(stream));
  GradientAverager averager(comm, avg_options, std::move(ops));
  averager.Register(m.g_w1, n_w1);
  averager.Register(m.g_b1, h);
  averager.Register(m.g_w2, h);
  averager.Register(m.g_b2, 1);

  std::vector<float> host_x(static_cast<size_t>(b) * d), host_target(b);
  auto last_report = std::chrono::steady_clock::now();
  int64_t samples_since_report = 0;
  double loss = 0;
  for (int64_t step = 1; step <= options.steps; ++step) {
    const uint64_t first = static_cast<uint64_t>((step - 1) * global_batch) + static_cast<uint64_t>(comm.rank()) * b;
    task.FillBatch(first, b, host_x.data(), host_target.data());
    RL_CUDA_CHECK(cudaMemcpyAsync(x, host_x.data(), host_x.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
    RL_CUDA_CHECK(cudaMemcpyAsync(target, host_target.data(), b * sizeof(float), cudaMemcpyHostToDevice, stream));
    RETURN_IF_ERROR(ForwardBackwardOnDevice(blas, stream, m, b, d, h));
    // The averager synchronises `stream` before each bucket goes to NCCL.
    RETURN_IF_ERROR(averager.Wait());
    const float neg_lr = static_cast<float>(-options.lr);
    RL_CUBLAS_CHECK(cublasSaxpy(blas, static_cast<int>(init.size()), &neg_lr, grads, 1, weights, 1));
    samples_since_report += global_batch;

    const bool log = step == options.steps || (options.log_every > 0 && step % options.log_every == 0);
    if (log) {
      ASSIGN_OR_RETURN(loss, AverageLoss(comm, stream, err, b, d_loss));
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last_report).count();
      sink.Report({step, options.steps, loss, seconds > 0 ? samples_since_report / seconds : 0.0});
      last_report = now;
      samples_since_report = 0;
    }
  }
  TrainerResult result;
  result.steps = options.steps;
  result.final_loss = loss;
  result.weights.resize(init.size());
  RL_CUDA_CHECK(cudaStreamSynchronize(stream));
  RL_CUDA_CHECK(cudaMemcpy(result.weights.data(), weights, init.size() * sizeof(float), cudaMemcpyDeviceToHost));
  result.checksum = WeightsChecksum(result.weights);
  sink.Finish(result.steps, result.final_loss, result.checksum);
  return result;
}

}  // namespace ringleader::runtime
