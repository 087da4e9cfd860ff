// GPU part of allreduce_bench (`allreduce_bench --gpu`), compiled when CUDA is found. Every
// ratio compares two things timed the same way: per-iteration host wall time from enqueue to
// the end of the synchronisation the production path waits for, reported as the median of the
// per-iteration ratios' inputs with their 10th-90th percentile spread.
//   pack_kernel_vs_d2d   - the averager's pack (CudaBucketOps::Pack + Synchronize: table upload
//                          and one batched launch) of 1000 gradients vs one cudaMemcpyAsync D2D
//                          of the same bytes + stream sync (target >= 0.9)
//   unpack_kernel_vs_d2d - the same for the unpack
//   nccl_path_vs_bare    - NcclCommunicator::AllReduce vs a bare ncclAllReduce + stream sync,
//                          64 MiB. ONE rank: this measures the wrapper's overhead (input-stream
//                          wait, event polling), not a reduction; no data crosses ranks.
//   fused_speedup        - 1000 x 1 KiB gradients through GradientAverager (fused) vs one
//                          AllReduce call each, ONE rank: per-call overhead only.
// Cross-rank reduction is checked for exactness by the RuntimeCuda test's two-rank processes
// (scripts/gpu-check.sh), not here. Every CUDA/NCCL call is checked and the results of the
// timed operations are compared with what they must be; the last line is
// `RESULT correctness=ok`, or `RESULT correctness=FAIL (<error>)` with exit code 1.
#include "gpu_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "collective_harness.h"
#include "ringleader/runtime/cuda/cuda_kernels.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#ifdef RINGLEADER_HAVE_NCCL
#include <nccl.h>

#include "ringleader/runtime/collectives/nccl_communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#endif

namespace rl = ringleader::runtime;
namespace harness = ringleader::harness;
using ringleader::Status;
using ringleader::StatusOr;

namespace {

using harness::CallTimes;
using harness::TimeEachCall;

// Host wall time of each of `iters` calls of `body()` (which must end with the synchronisation
// its caller would wait for), after two warm-ups.
template <typename F>
StatusOr<CallTimes> WallMs(F body, int iters) {
  return TimeEachCall(body, /*warmups=*/2, iters);
}

void PrintRatio(const char* name, const CallTimes& reference, const CallTimes& measured, const char* note) {
  // The spread of the ratio, from the two spreads (fast reference / slow measured and back).
  std::printf("RESULT %s=%.3f (median %.3f ms vs %.3f ms; ratio range %.3f-%.3f over p10-p90; %s)\n",
              name, reference.median_ms / measured.median_ms, reference.median_ms,
              measured.median_ms, reference.p10_ms / measured.p90_ms,
              reference.p90_ms / measured.p10_ms, note);
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

// 1000 gradients of mixed sizes (64 KiB-128 KiB, ~94 MiB in all) on the device, neighbours in
// one flat buffer as in a model's parameter storage, and a bucket they pack into.
struct Gradients {
  std::vector<float> host;
  size_t total = 0;
  float* grads = nullptr;
  float* bucket = nullptr;
  rl::BucketSlots slots;
  cudaStream_t stream = nullptr;
};

StatusOr<Gradients> UploadGradients() {
  Gradients g;
  std::vector<size_t> counts;
  size_t& total = g.total;
  float*& grads = g.grads;
  for (int i = 0; i < 1000; ++i) {
    counts.push_back(16384 + (i * 613) % 16384);
    total += counts.back();
  }
  g.host.resize(total);
  for (size_t i = 0; i < total; ++i) g.host[i] = static_cast<float>(i % 4099);
  RL_CUDA_CHECK(cudaMalloc(&grads, total * sizeof(float)));
  RL_CUDA_CHECK(cudaMemcpy(grads, g.host.data(), total * sizeof(float), cudaMemcpyHostToDevice));
  std::vector<float*> pieces;
  for (size_t i = 0, off = 0; i < counts.size(); off += counts[i], ++i) pieces.push_back(grads + off);
  g.slots = rl::LayOutBucket(pieces, counts);
  if (g.slots.total != total) return ringleader::InternalError("contiguous gradients got padded slots");
  RL_CUDA_CHECK(cudaMalloc(&g.bucket, total * sizeof(float)));
  RL_CUDA_CHECK(cudaDeviceSynchronize());  // the upload landed before the timed copies read it
  RL_CUDA_CHECK(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking));
  return g;
}

// The averager's pack and unpack against one D2D copy of the same bytes.
Status MeasurePackUnpack(const Gradients& g) {
  float* grads = g.grads;
  float* bucket = g.bucket;
  const size_t total = g.total;
  const std::vector<float>& grads_host = g.host;
  const rl::BucketSlots& slots = g.slots;
  cudaStream_t stream = g.stream;
  ASSIGN_OR_RETURN(std::unique_ptr<rl::BucketOps> ops, rl::MakeCudaBucketOps(stream));
  const size_t bytes = total * sizeof(float);
  auto d2d = [&]() -> Status {
    RL_CUDA_CHECK(cudaMemcpyAsync(bucket, grads, bytes, cudaMemcpyDeviceToDevice, stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const CallTimes d2d_ms, WallMs(d2d, 30));
  RL_CUDA_CHECK(cudaMemset(bucket, 0, bytes));
  auto pack = [&]() -> Status {
    RETURN_IF_ERROR(ops->Pack(bucket, slots));
    return ops->Synchronize();
  };
  ASSIGN_OR_RETURN(const CallTimes pack_ms, WallMs(pack, 30));
  RETURN_IF_ERROR(ExpectDevice(bucket, total, grads_host, "pack"));  // contiguous: bucket == grads
  RL_CUDA_CHECK(cudaMemset(grads, 0, bytes));
  auto unpack = [&]() -> Status {
    RETURN_IF_ERROR(ops->Unpack(bucket, slots));
    return ops->Synchronize();
  };
  ASSIGN_OR_RETURN(const CallTimes unpack_ms, WallMs(unpack, 30));
  RETURN_IF_ERROR(ExpectDevice(grads, total, grads_host, "unpack"));
  std::printf("# %.1f MiB in 1000 gradients: D2D copy median %.3f ms (%.1f GB/s)\n",
              bytes / 1048576.0, d2d_ms.median_ms, bytes / d2d_ms.median_ms / 1e6);
  PrintRatio("pack_kernel_vs_d2d", d2d_ms, pack_ms, "host wall time incl. sync, both");
  PrintRatio("unpack_kernel_vs_d2d", d2d_ms, unpack_ms, "host wall time incl. sync, both");
  return Status::Ok();
}

#ifdef RINGLEADER_HAVE_NCCL
// NcclCommunicator::AllReduce (`comm`, one rank) against a bare ncclAllReduce, 64 MiB.
Status MeasureNcclPath(const Gradients& g, rl::Communicator& comm) {
  float* grads = g.grads;
  cudaStream_t stream = g.stream;
  const std::vector<float>& grads_host = g.host;
  ncclComm_t bare;
  int dev = 0;
  RL_CUDA_CHECK(cudaGetDevice(&dev));
  RL_NCCL_CHECK(ncclCommInitAll(&bare, 1, &dev));
  const size_t big = (64u << 20) / sizeof(float);
  auto path_all_reduce = [&] {
    return comm.AllReduce(grads, big, rl::DataType::kFloat32, rl::ReduceOp::kAverage);
  };
  ASSIGN_OR_RETURN(const CallTimes path_ms, WallMs(path_all_reduce, 50));
  auto bare_all_reduce = [&]() -> Status {
    RL_NCCL_CHECK(ncclAllReduce(grads, grads, big, ncclFloat32, ncclAvg, bare, stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(stream));
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const CallTimes bare_ms, WallMs(bare_all_reduce, 50));
  // One rank: the average is the input; this only shows that neither path corrupted it.
  RETURN_IF_ERROR(ExpectDevice(grads, big, std::vector<float>(grads_host.begin(), grads_host.begin() + big),
                               "one-rank ncclAllReduce"));
  PrintRatio("nccl_path_vs_bare", bare_ms, path_ms, "64 MiB, 1 rank: wrapper overhead only");
  RL_NCCL_CHECK(ncclCommDestroy(bare));
  return Status::Ok();
}

// 1000 small gradients through the fused GradientAverager against one AllReduce each.
Status MeasureFusedAverager(const Gradients& g, rl::Communicator& comm) {
  float* grads = g.grads;
  cudaStream_t stream = g.stream;
  const std::vector<float>& grads_host = g.host;
  rl::GradientAveragerOptions averager_options;
  averager_options.overlap = false;
  ASSIGN_OR_RETURN(std::unique_ptr<rl::BucketOps> averager_ops, rl::MakeCudaBucketOps(stream));
  rl::GradientAverager averager(comm, averager_options, std::move(averager_ops));
  std::vector<float*> small;
  for (int i = 0; i < 1000; ++i) {
    small.push_back(grads + i * 256);
    averager.Register(small.back(), 256);
  }
  auto fused = [&] { return averager.Wait(); };
  ASSIGN_OR_RETURN(const CallTimes fused_ms, WallMs(fused, 20));
  auto one_call_each = [&]() -> Status {
    for (float* gradient : small) {
      RETURN_IF_ERROR(comm.AllReduce(gradient, 256, rl::DataType::kFloat32, rl::ReduceOp::kAverage));
    }
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(const CallTimes unfused_ms, WallMs(one_call_each, 5));
  const std::vector<float> small_want(grads_host.begin(), grads_host.begin() + 1000 * 256);
  RETURN_IF_ERROR(ExpectDevice(grads, small_want.size(), small_want, "one-rank fused average"));
  PrintRatio("fused_speedup", unfused_ms, fused_ms, "1000 x 1 KiB gradients, 1 rank: per-call overhead only");
  return Status::Ok();
}
#endif

Status Run(int devices) {
  ASSIGN_OR_RETURN(Gradients g, UploadGradients());
  RETURN_IF_ERROR(MeasurePackUnpack(g));
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
  RETURN_IF_ERROR(MeasureNcclPath(g, *comm));
  RETURN_IF_ERROR(MeasureFusedAverager(g, *comm));
#else
  (void)devices;
  std::printf("# built without NCCL: nccl_path_vs_bare and fused_speedup not measured\n");
#endif
  RL_CUDA_CHECK(cudaStreamDestroy(g.stream));
  RL_CUDA_CHECK(cudaFree(g.bucket));
  RL_CUDA_CHECK(cudaFree(g.grads));
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
  return harness::PrintCorrectness(status.ok() ? std::vector<std::string>{}
                                               : std::vector<std::string>{status.ToString()});
}
