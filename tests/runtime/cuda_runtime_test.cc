// GPU tests, gtest-free (the GPU machine has no gtest): CUDA kernels against a CPU reference
// for many sizes and (mis)alignments, CudaBucketOps pack/unpack, and the NCCL backend with one
// rank (plus GradientAverager on it). Prints `SKIP: no CUDA device (<reason>)` and exits 0
// when no device is visible.

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ringleader/runtime/cuda_kernels.h"
#include "ringleader/runtime/gradient_averager.h"
#include "ringleader/runtime/trainer.h"
#ifdef RINGLEADER_HAVE_NCCL
#include "ringleader/runtime/nccl_communicator.h"
#include "ringleader/runtime/rendezvous.h"
#endif

namespace rl = ringleader::runtime;

namespace {

int g_checks = 0;
int g_failures = 0;

void Check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

void CheckOk(const ringleader::Status& s, const std::string& what) { Check(s.ok(), what + ": " + s.ToString()); }

std::vector<float> Pattern(size_t n, int seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>((i * 7 + seed) % 23) - 11);
  return v;
}

void TestKernels() {
  const size_t sizes[] = {0, 1, 3, 4, 5, 31, 1023, 1024, 1025, (1u << 20) + 7};
  const size_t kPad = 8;
  for (size_t n : sizes) {
    for (size_t offset : {0, 1, 2, 3}) {
      for (size_t dst_offset : {0, 1}) {
        const std::string tag = "n=" + std::to_string(n) + " off=" + std::to_string(offset) + "/" +
                                std::to_string(dst_offset);
        float *a = nullptr, *b = nullptr, *c = nullptr;
        cudaMalloc(&a, (n + kPad) * sizeof(float));
        cudaMalloc(&b, (n + kPad) * sizeof(float));
        cudaMalloc(&c, (n + kPad) * sizeof(float));
        auto x = Pattern(n, 1), y = Pattern(n, 5);
        cudaMemcpy(a + offset, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
        cudaMemcpy(b + offset, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
        std::vector<float> out(n);

        CheckOk(rl::LaunchCopy(c + dst_offset, a + offset, n, nullptr), "copy " + tag);
        cudaMemcpy(out.data(), c + dst_offset, n * sizeof(float), cudaMemcpyDeviceToHost);
        Check(out == x, "copy result " + tag);

        CheckOk(rl::LaunchAverage2(c + offset, a + offset, b + offset, n, 0.5f, nullptr), "avg2 " + tag);
        cudaMemcpy(out.data(), c + offset, n * sizeof(float), cudaMemcpyDeviceToHost);
        bool ok = true;
        for (size_t i = 0; i < n; ++i) ok = ok && out[i] == (x[i] + y[i]) * 0.5f;
        Check(ok, "avg2 result " + tag);
        // dst at a different 16-byte phase than a and b: the scalar path.
        CheckOk(rl::LaunchAverage2(c + dst_offset, a + offset, b + offset, n, 0.5f, nullptr),
                "avg2 phase " + tag);
        cudaMemcpy(out.data(), c + dst_offset, n * sizeof(float), cudaMemcpyDeviceToHost);
        ok = true;
        for (size_t i = 0; i < n; ++i) ok = ok && out[i] == (x[i] + y[i]) * 0.5f;
        Check(ok, "avg2 phase result " + tag);

        CheckOk(rl::LaunchScale(a + offset, n, rl::DataType::kFloat32, 0.25f, nullptr), "scale " + tag);
        cudaMemcpy(out.data(), a + offset, n * sizeof(float), cudaMemcpyDeviceToHost);
        ok = true;
        for (size_t i = 0; i < n; ++i) ok = ok && out[i] == x[i] * 0.25f;
        Check(ok, "scale result " + tag);

        for (rl::DataType t : {rl::DataType::kFloat16, rl::DataType::kBFloat16}) {
          std::vector<uint16_t> h(n), back(n);
          for (size_t i = 0; i < n; ++i) {
            h[i] = t == rl::DataType::kFloat16 ? rl::FloatToHalf(x[i]) : rl::FloatToBFloat16(x[i]);
          }
          auto* d16 = reinterpret_cast<uint16_t*>(b) + offset;
          cudaMemcpy(d16, h.data(), n * 2, cudaMemcpyHostToDevice);
          CheckOk(rl::LaunchScale(d16, n, t, 0.5f, nullptr), std::string("scale16 ") + tag);
          cudaMemcpy(back.data(), d16, n * 2, cudaMemcpyDeviceToHost);
          ok = true;
          for (size_t i = 0; i < n; ++i) {
            const float got = t == rl::DataType::kFloat16 ? rl::HalfToFloat(back[i]) : rl::BFloat16ToFloat(back[i]);
            ok = ok && got == x[i] * 0.5f;
          }
          Check(ok, std::string(rl::DataTypeName(t)) + " scale result " + tag);
        }
        cudaFree(a);
        cudaFree(b);
        cudaFree(c);
      }
    }
  }
  Check(cudaDeviceSynchronize() == cudaSuccess, "no sticky CUDA error after kernels");
}

void TestBucketOps() {
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  auto ops = rl::MakeCudaBucketOps(stream);
  // 1000 small pieces of odd sizes and offsets, plus one big one.
  std::vector<size_t> counts;
  for (int i = 0; i < 1000; ++i) counts.push_back(1 + (i * 37) % 301);
  counts.push_back((1u << 20) + 3);
  size_t total = 0;
  for (size_t c : counts) total += c;
  std::vector<float*> pieces;
  std::vector<std::vector<float>> host;
  for (size_t i = 0; i < counts.size(); ++i) {
    float* p = nullptr;
    cudaMalloc(&p, (counts[i] + 1) * sizeof(float));
    p += i % 2;  // misaligned half of the time
    host.push_back(Pattern(counts[i], static_cast<int>(i)));
    cudaMemcpy(p, host.back().data(), counts[i] * sizeof(float), cudaMemcpyHostToDevice);
    pieces.push_back(p);
  }
  auto* bucket = static_cast<float*>(ops->Allocate(total * sizeof(float)));
  CheckOk(ops->Pack(bucket, pieces, counts), "pack");
  CheckOk(ops->Synchronize(), "pack sync");
  std::vector<float> packed(total);
  cudaMemcpy(packed.data(), bucket, total * sizeof(float), cudaMemcpyDeviceToHost);
  bool ok = true;
  size_t offset = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    for (size_t j = 0; j < counts[i]; ++j) ok = ok && packed[offset + j] == host[i][j];
    offset += counts[i];
  }
  Check(ok, "pack layout");
  CheckOk(rl::LaunchScale(bucket, total, rl::DataType::kFloat32, 2.0f, stream), "scale bucket");
  CheckOk(ops->Unpack(bucket, pieces, counts), "unpack");
  CheckOk(ops->Synchronize(), "unpack sync");
  ok = true;
  for (size_t i = 0; i < counts.size(); ++i) {
    std::vector<float> got(counts[i]);
    cudaMemcpy(got.data(), pieces[i], counts[i] * sizeof(float), cudaMemcpyDeviceToHost);
    for (size_t j = 0; j < counts[i]; ++j) ok = ok && got[j] == 2.0f * host[i][j];
  }
  Check(ok, "unpack result");
  ops->Free(bucket);
  for (size_t i = 0; i < pieces.size(); ++i) cudaFree(pieces[i] - i % 2);
  cudaStreamDestroy(stream);
}

#ifdef RINGLEADER_HAVE_NCCL
void TestNcclOneRank() {
  int port = 0;
  auto listener = rl::ListenTcp("127.0.0.1", 0, &port);
  rl::RendezvousOptions ro;
  ro.env.master_port = port;
  ro.timeout = std::chrono::seconds(30);
  ro.store_listen_fd = listener->release();
  ro.gpu_count = rl::CudaDeviceCount();
  auto rdzv = rl::Rendezvous::Join(ro);
  CheckOk(rdzv.status(), "rendezvous");
  if (!rdzv.ok()) return;
  rl::CommunicatorOptions co;
  co.backend = rl::Backend::kAuto;  // every rank has a GPU: auto must pick NCCL
  auto comm = rl::CreateCommunicator(**rdzv, co);
  CheckOk(comm.status(), "create nccl communicator");
  if (!comm.ok()) return;
  Check((*comm)->backend() == rl::Backend::kNccl, "auto picked nccl");
  for (size_t n : {size_t{1}, size_t{1001}, size_t{1} << 22}) {
    float* d = nullptr;
    cudaMalloc(&d, n * sizeof(float));
    auto x = Pattern(n, 3);
    cudaMemcpy(d, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    CheckOk((*comm)->AllReduce(d, n, rl::DataType::kFloat32, rl::ReduceOp::kAverage), "nccl avg");
    std::vector<float> out(n);
    cudaMemcpy(out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
    Check(out == x, "nccl 1-rank average is the identity, n=" + std::to_string(n));
    cudaFree(d);
  }
  // GradientAverager on device memory.
  cudaStream_t stream = static_cast<rl::NcclCommunicator&>(**comm).stream();
  rl::GradientAverager averager(**comm, {}, rl::MakeCudaBucketOps(stream));
  std::vector<float*> grads;
  for (size_t n : {size_t{5}, size_t{1000}, size_t{77}}) {
    float* d = nullptr;
    cudaMalloc(&d, n * sizeof(float));
    auto x = Pattern(n, static_cast<int>(n));
    cudaMemcpy(d, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    averager.Register(d, n);
    grads.push_back(d);
  }
  CheckOk(averager.Wait(), "averager on nccl");
  std::vector<float> out(1000);
  cudaMemcpy(out.data(), grads[1], 1000 * sizeof(float), cudaMemcpyDeviceToHost);
  Check(out == Pattern(1000, 1000), "averager round trip");
  for (float* g : grads) cudaFree(g);

  // The GPU trainer on one rank matches the CPU trainer (same task, init and samples).
  struct Sink : rl::ProgressSink {
    void Report(const rl::ProgressReport&) override {}
    void Finish(int64_t, double, const std::string&) override {}
  } sink;
  rl::TrainerOptions to;
  to.steps = 50;
  to.batch_size = 16;
  auto gpu = rl::RunGpuTrainer(to, **comm, sink);
  CheckOk(gpu.status(), "gpu trainer");
  if (!gpu.ok()) return;
  // CPU reference: with one rank averaging is the identity, so a no-op host communicator.
  struct Solo : rl::Communicator {
    int rank() const override { return 0; }
    int size() const override { return 1; }
    rl::Backend backend() const override { return rl::Backend::kTcp; }
    ringleader::Status AllReduce(void*, size_t, rl::DataType, rl::ReduceOp) override { return {}; }
  } solo;
  auto cpu = rl::RunTrainer(to, solo, sink);
  CheckOk(cpu.status(), "cpu trainer");
  double max_diff = 0;
  for (size_t i = 0; cpu.ok() && i < cpu->weights.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(cpu->weights[i] - gpu->weights[i])));
  }
  std::printf("gpu trainer: final loss %.6f (cpu %.6f), max |w_gpu - w_cpu| = %.3g\n", gpu->final_loss,
              cpu.ok() ? cpu->final_loss : -1.0, max_diff);
  Check(max_diff < 1e-3, "gpu trainer matches cpu trainer");
}
#endif

}  // namespace

int main() {
  int devices = 0;
  cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::printf("SKIP: no CUDA device (%s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount returned 0");
    return 0;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s\n", prop.name);
  TestKernels();
  TestBucketOps();
#ifdef RINGLEADER_HAVE_NCCL
  TestNcclOneRank();
#else
  std::printf("NOTE: built without NCCL; NCCL tests not compiled\n");
#endif
  std::printf("cuda_runtime_test: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
