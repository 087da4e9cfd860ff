// GPU part of allreduce_bench (`allreduce_bench --gpu`), compiled when CUDA is found:
//   avg_kernel_vs_d2d  - in-place average (scale) kernel time vs cudaMemcpy D2D of the same
//                        bytes (both read and write every byte once; target >= 0.9)
//   pack_kernel_vs_d2d - batched pack of 1000 gradients vs one D2D copy of the same bytes
//   nccl_path_vs_bare  - NcclCommunicator::AllReduce vs a bare ncclAllReduce on the same
//                        communicator size (1 rank here; target >= 0.97 at >= 64 MiB)
//   fused_speedup      - 1000 small gradients through GradientAverager (fused) vs one
//                        AllReduce call each (target >= 5)
// Every CUDA/NCCL call and every launch is checked (RL_CUDA_CHECK / RL_NCCL_CHECK), and the
// results of the timed operations are compared with what they must be; the last line is
// `RESULT correctness=ok`, or `RESULT correctness=FAIL (<error>)` with exit code 1.
#include "gpu_bench.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ringleader/runtime/cuda_kernels.h"
#include "ringleader/runtime/gradient_averager.h"
#ifdef RINGLEADER_HAVE_NCCL
#include <nccl.h>

#include "ringleader/runtime/nccl_communicator.h"
#include "ringleader/runtime/rendezvous.h"
#endif

namespace rl = ringleader::runtime;
using ringleader::Status;
using ringleader::StatusOr;

namespace {

// Mean GPU time of one `body()` (which enqueues work and returns its Status), after a warm-up.
template <typename F>
StatusOr<float> TimeMs(F body, int iters) {
  cudaEvent_t start, stop;
  RL_CUDA_CHECK(cudaEventCreate(&start));
  RL_CUDA_CHECK(cudaEventCreate(&stop));
  RETURN_IF_ERROR(body());
  RL_CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < iters; ++i) RETURN_IF_ERROR(body());
  RL_CUDA_CHECK(cudaEventRecord(stop));
  RL_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  RL_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  RL_CUDA_CHECK(cudaEventDestroy(start));
  RL_CUDA_CHECK(cudaEventDestroy(stop));
  return ms / iters;
}

// Mean wall time of one `body()` including its synchronisation, after a warm-up.
template <typename F>
StatusOr<double> WallMs(F body, int iters) {
  RETURN_IF_ERROR(body());
  RL_CUDA_CHECK(cudaDeviceSynchronize());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) RETURN_IF_ERROR(body());
  RL_CUDA_CHECK(cudaDeviceSynchronize());
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
}

// InternalError unless the first `count` floats at `device` equal `want` (one value or one per
// element).
Status ExpectDevice(const float* device, size_t count, const std::vector<float>& want,
                    const char* what) {
  std::vector<float> got(count);
  RL_CUDA_CHECK(cudaMemcpy(got.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < count; ++i) {
    const float expected = want.size() == 1 ? want[0] : want[i];
    if (got[i] != expected) {
      return ringleader::InternalError(std::string(what) + ": element " + std::to_string(i) +
                                       " is " + std::to_string(got[i]) + ", want " +
                                       std::to_string(expected));
    }
  }
  return Status::Ok();
}

Status Run(int devices) {
  const size_t bytes = 256u << 20;
  const size_t n = bytes / sizeof(float);
  float *a = nullptr, *b = nullptr;
  RL_CUDA_CHECK(cudaMalloc(&a, bytes));
  RL_CUDA_CHECK(cudaMalloc(&b, bytes));
  // Bytes 0x40 make every float 3.00390625; halving it 21 times stays exact.
  RL_CUDA_CHECK(cudaMemset(a, 0x40, bytes));
  float a_value = 0;
  std::memset(&a_value, 0x40, sizeof(a_value));
  auto copy_a_to_b = [&]() -> Status {
    RL_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const float d2d, TimeMs(copy_a_to_b, 20));
  int scalings = 0;
  auto halve_a = [&] {
    ++scalings;
    return rl::LaunchScale(a, n, rl::DataType::kFloat32, 0.5f, nullptr);
  };
  ASSIGN_OR_RETURN(const float scale, TimeMs(halve_a, 20));
  for (int i = 0; i < scalings; ++i) a_value *= 0.5f;
  RETURN_IF_ERROR(ExpectDevice(a, n, {a_value}, "average kernel"));
  std::printf("# 256MiB: cudaMemcpy D2D %.3f ms (%.1f GB/s copied), average kernel %.3f ms\n", d2d,
              bytes / d2d / 1e6, scale);

  // 1000 gradients of mixed sizes packed into one bucket.
  std::vector<size_t> counts;
  size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    counts.push_back(16384 + (i * 613) % 16384);
    total += counts.back();
  }
  std::vector<float> grads_host(total);
  for (size_t i = 0; i < total; ++i) grads_host[i] = static_cast<float>(i % 4099);
  std::vector<float*> pieces;
  float* grads = nullptr;
  RL_CUDA_CHECK(cudaMalloc(&grads, total * sizeof(float)));
  RL_CUDA_CHECK(
      cudaMemcpy(grads, grads_host.data(), total * sizeof(float), cudaMemcpyHostToDevice));
  for (size_t i = 0, off = 0; i < counts.size(); off += counts[i], ++i) pieces.push_back(grads + off);
  cudaStream_t stream;
  RL_CUDA_CHECK(cudaStreamCreate(&stream));
  auto ops = rl::MakeCudaBucketOps(stream);
  auto pack = [&] { return ops->Pack(b, pieces, counts); };
  ASSIGN_OR_RETURN(const double pack_ms, WallMs(pack, 20));
  // The pieces are contiguous, so the packed bucket is the gradients in order.
  RETURN_IF_ERROR(ExpectDevice(b, total, grads_host, "pack kernel"));
  auto copy_grads_to_b = [&]() -> Status {
    RL_CUDA_CHECK(cudaMemcpyAsync(b, grads, total * sizeof(float), cudaMemcpyDeviceToDevice));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const float d2d_same, TimeMs(copy_grads_to_b, 20));
  std::printf("RESULT avg_kernel_vs_d2d=%.3f\n", d2d / scale);
  std::printf("RESULT pack_kernel_vs_d2d=%.3f\n", d2d_same / pack_ms);

#ifdef RINGLEADER_HAVE_NCCL
  int port = 0;
  ASSIGN_OR_RETURN(auto listener, rl::ListenTcp("127.0.0.1", 0, &port));
  rl::RendezvousOptions ro;
  ro.env.master_port = port;
  ro.store_listen_fd = listener.release();
  ro.gpu_count = devices;
  ASSIGN_OR_RETURN(auto rdzv, rl::Rendezvous::Join(ro));
  rl::CommunicatorOptions co;
  co.backend = rl::Backend::kNccl;
  ASSIGN_OR_RETURN(auto comm, rl::CreateCommunicator(*rdzv, co));
  ncclComm_t bare;
  int dev = 0;
  RL_CUDA_CHECK(cudaGetDevice(&dev));
  RL_NCCL_CHECK(ncclCommInitAll(&bare, 1, &dev));
  const size_t big = (64u << 20) / sizeof(float);
  // One rank: averaging leaves the values as they are, on both paths.
  auto path_all_reduce = [&] {
    return comm->AllReduce(a, big, rl::DataType::kFloat32, rl::ReduceOp::kAverage);
  };
  ASSIGN_OR_RETURN(const double path_ms, WallMs(path_all_reduce, 50));
  auto bare_all_reduce = [&]() -> Status {
    RL_NCCL_CHECK(ncclAllReduce(a, a, big, ncclFloat32, ncclAvg, bare, stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const double bare_ms, WallMs(bare_all_reduce, 50));
  RETURN_IF_ERROR(ExpectDevice(a, big, {a_value}, "ncclAllReduce average"));
  std::printf("RESULT nccl_path_vs_bare=%.3f (64MiB, 1 rank)\n", bare_ms / path_ms);
  RL_NCCL_CHECK(ncclCommDestroy(bare));

  // Averaged on this thread (overlap off), like the GPU trainer: the overlap thread would
  // need its own cudaSetDevice.
  rl::GradientAveragerOptions averager_options;
  averager_options.overlap = false;
  rl::GradientAverager averager(
      *comm, averager_options,
      rl::MakeCudaBucketOps(static_cast<rl::NcclCommunicator&>(*comm).stream()));
  std::vector<float*> small;
  for (int i = 0; i < 1000; ++i) {
    small.push_back(grads + i * 256);
    averager.Register(small.back(), 256);
  }
  auto fused = [&] { return averager.Wait(); };
  ASSIGN_OR_RETURN(const double fused_ms, WallMs(fused, 20));
  auto one_call_each = [&]() -> Status {
    for (float* g : small) {
      RETURN_IF_ERROR(comm->AllReduce(g, 256, rl::DataType::kFloat32, rl::ReduceOp::kAverage));
    }
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const double unfused_ms, WallMs(one_call_each, 5));
  const std::vector<float> small_want(grads_host.begin(), grads_host.begin() + 1000 * 256);
  RETURN_IF_ERROR(ExpectDevice(grads, small_want.size(), small_want, "fused average"));
  std::printf("RESULT fused_speedup=%.2f (1000 x 1KiB gradients)\n", unfused_ms / fused_ms);
#else
  (void)devices;
  std::printf("# built without NCCL: nccl_path_vs_bare and fused_speedup not measured\n");
#endif
  RL_CUDA_CHECK(cudaStreamDestroy(stream));
  RL_CUDA_CHECK(cudaFree(a));
  RL_CUDA_CHECK(cudaFree(b));
  RL_CUDA_CHECK(cudaFree(grads));
  return Status::Ok();
}

}  // namespace

int RunGpuBench() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIP: no CUDA device\n");
    return 0;
  }
  const Status status = Run(devices);
  if (!status.ok()) {
    std::printf("RESULT correctness=FAIL (%s)\n", status.ToString().c_str());
    return 1;
  }
  std::printf("RESULT correctness=ok\n");
  return 0;
}
