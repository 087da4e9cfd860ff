// GPU part of allreduce_bench (`allreduce_bench --gpu`), compiled when CUDA is found:
//   avg_kernel_vs_d2d  - in-place average (scale) kernel time vs cudaMemcpy D2D of the same
//                        bytes (both read and write every byte once; target >= 0.9)
//   pack_kernel_vs_d2d - batched pack of 1000 gradients vs one D2D copy of the same bytes
//   nccl_path_vs_bare  - NcclCommunicator::AllReduce vs a bare ncclAllReduce on the same
//                        communicator size (1 rank here; target >= 0.97 at >= 64 MiB)
//   fused_speedup      - 1000 small gradients through GradientAverager (fused) vs one
//                        AllReduce call each (target >= 5)
#include "gpu_bench.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "ringleader/runtime/cuda_kernels.h"
#include "ringleader/runtime/gradient_averager.h"
#ifdef RINGLEADER_HAVE_NCCL
#include <nccl.h>

#include "ringleader/runtime/nccl_communicator.h"
#include "ringleader/runtime/rendezvous.h"
#endif

namespace rl = ringleader::runtime;

namespace {

template <typename F>
float TimeMs(F body, int iters) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  body();  // warm up
  cudaEventRecord(start);
  for (int i = 0; i < iters; ++i) body();
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / iters;
}

template <typename F>
double WallMs(F body, int iters) {
  body();
  cudaDeviceSynchronize();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) body();
  cudaDeviceSynchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
}

}  // namespace

int RunGpuBench() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIP: no CUDA device\n");
    return 0;
  }
  const size_t bytes = 256u << 20;
  const size_t n = bytes / sizeof(float);
  float *a = nullptr, *b = nullptr;
  cudaMalloc(&a, bytes);
  cudaMalloc(&b, bytes);
  cudaMemset(a, 0, bytes);
  const float d2d = TimeMs([&] { cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice); }, 20);
  const float scale = TimeMs([&] { (void)rl::LaunchScale(a, n, rl::DataType::kFloat32, 0.5f, nullptr); }, 20);
  std::printf("# 256MiB: cudaMemcpy D2D %.3f ms (%.1f GB/s copied), average kernel %.3f ms\n", d2d,
              bytes / d2d / 1e6, scale);

  // 1000 gradients of mixed sizes packed into one bucket.
  std::vector<size_t> counts;
  size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    counts.push_back(16384 + (i * 613) % 16384);
    total += counts.back();
  }
  std::vector<float*> pieces;
  float* grads = nullptr;
  cudaMalloc(&grads, total * sizeof(float));
  cudaMemset(grads, 0, total * sizeof(float));
  for (size_t i = 0, off = 0; i < counts.size(); off += counts[i], ++i) pieces.push_back(grads + off);
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  auto ops = rl::MakeCudaBucketOps(stream);
  const double pack_ms = WallMs([&] { (void)ops->Pack(b, pieces, counts); }, 20);
  const float d2d_same = TimeMs([&] { cudaMemcpyAsync(b, grads, total * sizeof(float), cudaMemcpyDeviceToDevice); }, 20);
  std::printf("RESULT avg_kernel_vs_d2d=%.3f\n", d2d / scale);
  std::printf("RESULT pack_kernel_vs_d2d=%.3f\n", d2d_same / pack_ms);

#ifdef RINGLEADER_HAVE_NCCL
  int port = 0;
  auto listener = rl::ListenTcp("127.0.0.1", 0, &port);
  rl::RendezvousOptions ro;
  ro.env.master_port = port;
  ro.store_listen_fd = listener->release();
  ro.gpu_count = devices;
  auto rdzv = rl::Rendezvous::Join(ro);
  rl::CommunicatorOptions co;
  co.backend = rl::Backend::kNccl;
  auto comm = rl::CreateCommunicator(**rdzv, co);
  if (!comm.ok()) {
    std::printf("nccl: %s\n", comm.status().ToString().c_str());
    return 1;
  }
  ncclComm_t bare;
  int dev = 0;
  cudaGetDevice(&dev);
  ncclCommInitAll(&bare, 1, &dev);
  const size_t big = (64u << 20) / sizeof(float);
  const double path_ms = WallMs([&] { (void)(*comm)->AllReduce(a, big, rl::DataType::kFloat32, rl::ReduceOp::kAverage); }, 50);
  const double bare_ms = WallMs([&] { ncclAllReduce(a, a, big, ncclFloat32, ncclAvg, bare, stream); cudaStreamSynchronize(stream); }, 50);
  std::printf("RESULT nccl_path_vs_bare=%.3f (64MiB, 1 rank)\n", bare_ms / path_ms);
  ncclCommDestroy(bare);

  rl::GradientAverager averager(**comm, {}, rl::MakeCudaBucketOps(static_cast<rl::NcclCommunicator&>(**comm).stream()));
  std::vector<float*> small;
  for (int i = 0; i < 1000; ++i) {
    small.push_back(grads + i * 256);
    averager.Register(small.back(), 256);
  }
  const double fused_ms = WallMs([&] { (void)averager.Wait(); }, 20);
  const double unfused_ms = WallMs([&] {
    for (float* g : small) (void)(*comm)->AllReduce(g, 256, rl::DataType::kFloat32, rl::ReduceOp::kAverage);
  }, 5);
  std::printf("RESULT fused_speedup=%.2f (1000 x 1KiB gradients)\n", unfused_ms / fused_ms);
#else
  std::printf("# built without NCCL: nccl_path_vs_bare and fused_speedup not measured\n");
#endif
  cudaFree(a);
  cudaFree(b);
  cudaFree(grads);
  return 0;
}
