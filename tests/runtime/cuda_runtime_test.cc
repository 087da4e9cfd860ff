// GPU tests, gtest-free (the GPU machine has no gtest): CUDA kernels against a CPU reference
// for many sizes and (mis)alignments, CudaBucketOps pack/unpack, the NCCL backend with one rank
// (a smoke test only: with one rank averaging is the identity) and with two ranks in two
// processes of this binary on one GPU (distinct NCCL_HOSTID, so NCCL treats them as two hosts
// over loopback): exact sums and averages of every dtype against the CPU reference, the
// averager on its overlap thread, the GPU trainer against the CPU trainer, two ranks refused on
// one GPU without NCCL_HOSTID (exit 2), and a collective timeout naming the missing rank
// (exit 175). Prints `SKIP: no CUDA device (<reason>)` and exits 0 when no device is visible.

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "collective_cases.h"
#include "collective_harness.h"
#include "cuda_reference_kernels.h"
#include "ringleader/runtime/cuda/cuda_kernels.h"
#include "ringleader/runtime/app/exit_codes.h"
#include "ringleader/runtime/collectives/gradient_averager.h"
#include "ringleader/runtime/app/trainer.h"
#include "subprocess.h"
#ifdef RINGLEADER_HAVE_NCCL
#include "ringleader/runtime/collectives/nccl_communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
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
  Check(cudaStreamCreate(&stream) == cudaSuccess, "cudaStreamCreate");
  auto made = rl::MakeCudaBucketOps(stream);
  CheckOk(made.status(), "MakeCudaBucketOps");
  if (!made.ok()) return;
  std::unique_ptr<rl::BucketOps> ops = std::move(*made);
  // 1000 small pieces of odd sizes and offsets, plus one big one.
  std::vector<size_t> counts;
  for (int i = 0; i < 1000; ++i) counts.push_back(1 + (i * 37) % 301);
  counts.push_back((1u << 20) + 3);
  std::vector<float*> pieces;
  std::vector<std::vector<float>> host;
  for (size_t i = 0; i < counts.size(); ++i) {
    float* p = nullptr;
    cudaMalloc(&p, (counts[i] + 3) * sizeof(float));
    p += i % 4;  // every 16-byte phase
    host.push_back(Pattern(counts[i], static_cast<int>(i)));
    cudaMemcpy(p, host.back().data(), counts[i] * sizeof(float), cudaMemcpyHostToDevice);
    pieces.push_back(p);
  }
  const rl::BucketSlots slots = rl::LayOutBucket(pieces, counts);
  auto* bucket = static_cast<float*>(ops->Allocate(slots.total * sizeof(float)));
  Check(bucket != nullptr, "allocate bucket");
  if (bucket == nullptr) return;
  bool in_phase = reinterpret_cast<uintptr_t>(bucket) % 16 == 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    in_phase = in_phase && (reinterpret_cast<uintptr_t>(bucket + slots.offsets[i]) % 16 ==
                            reinterpret_cast<uintptr_t>(pieces[i]) % 16);
  }
  Check(in_phase, "every slot shares its gradient's 16-byte phase (vectorised copies)");
  CheckOk(ops->Pack(bucket, slots), "pack");
  CheckOk(ops->Synchronize(), "pack sync");
  std::vector<float> packed(slots.total);
  cudaMemcpy(packed.data(), bucket, slots.total * sizeof(float), cudaMemcpyDeviceToHost);
  bool ok = true;
  for (size_t i = 0; i < counts.size(); ++i) {
    for (size_t j = 0; j < counts[i]; ++j) ok = ok && packed[slots.offsets[i] + j] == host[i][j];
  }
  Check(ok, "pack layout");
  CheckOk(rl::LaunchScale(bucket, slots.total, rl::DataType::kFloat32, 2.0f, stream), "scale bucket");
  CheckOk(ops->Unpack(bucket, slots), "unpack");
  CheckOk(ops->Synchronize(), "unpack sync");
  ok = true;
  for (size_t i = 0; i < counts.size(); ++i) {
    std::vector<float> got(counts[i]);
    cudaMemcpy(got.data(), pieces[i], counts[i] * sizeof(float), cudaMemcpyDeviceToHost);
    for (size_t j = 0; j < counts[i]; ++j) ok = ok && got[j] == 2.0f * host[i][j];
  }
  Check(ok, "unpack result");
  ops->Free(bucket);
  for (size_t i = 0; i < pieces.size(); ++i) cudaFree(pieces[i] - i % 4);
  cudaStreamDestroy(stream);
}

#ifdef RINGLEADER_HAVE_NCCL
struct NullSink : rl::ProgressSink {
  void Report(const rl::ProgressReport&) override {}
  void Finish(int64_t, double, const std::string&) override {}
};

// One rank, no peers: averaging is the identity.
struct Solo : rl::Communicator {
  int rank() const override { return 0; }
  int size() const override { return 1; }
  rl::Backend backend() const override { return rl::Backend::kTcp; }
  ringleader::Status AllReduce(void*, size_t, rl::DataType, rl::ReduceOp) override { return {}; }
};

// Trains `ranks` GPU ranks' worth of the demo task through `comm` and compares with the CPU
// trainer on one rank with the global batch (the data-parallel equivalence of trainer.h): if the
// gradients were not averaged across ranks, the weights would follow this rank's half only.
void CheckTrainerAgainstCpu(rl::Communicator& comm, bool overlap, const std::string& tag) {
  NullSink sink;
  rl::TrainerOptions to;
  to.steps = 50;
  to.batch_size = 16;
  to.overlap = overlap;
  to.bucket_bytes = 1024;  // several buckets, one of them a single gradient
  auto gpu = rl::RunGpuTrainer(to, comm, sink);
  CheckOk(gpu.status(), tag + " gpu trainer");
  if (!gpu.ok()) return;
  Solo solo;
  rl::TrainerOptions reference = to;
  reference.batch_size = to.batch_size * comm.size();
  auto cpu = rl::RunTrainer(reference, solo, sink);
  CheckOk(cpu.status(), tag + " cpu trainer");
  if (!cpu.ok()) return;
  double max_diff = 0;
  for (size_t i = 0; i < cpu->weights.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(cpu->weights[i] - gpu->weights[i])));
  }
  std::printf("%s: rank %d final loss gpu %.6f cpu %.6f, max |w_gpu - w_cpu| = %.3g, checksum=%s\n",
              tag.c_str(), comm.rank(), gpu->final_loss, cpu->final_loss, max_diff,
              gpu->checksum.c_str());
  Check(max_diff < 1e-3, tag + ": gpu trainer weights match the cpu trainer's");
  Check(std::fabs(gpu->final_loss - cpu->final_loss) <= 1e-2 * std::fabs(cpu->final_loss) + 1e-6,
        tag + ": gpu trainer loss matches the cpu trainer's");
}

// GradientAverager with CudaBucketOps on its overlap thread: gradients at every 16-byte phase in
// separate allocations, small buckets (a single-gradient one included), three steps.
void CheckAveragerOnDevice(rl::Communicator& comm) {
  cudaStream_t stream = nullptr;
  Check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess, "stream");
  auto ops = rl::MakeCudaBucketOps(stream);
  CheckOk(ops.status(), "MakeCudaBucketOps");
  if (!ops.ok()) return;
  rl::GradientAveragerOptions options;
  options.bucket_bytes = 8 << 10;
  options.overlap = true;
  const std::vector<size_t> counts = {5, 1000, 77, 3000, 1, 64};
  std::vector<float*> grads;
  {
    rl::GradientAverager averager(comm, options, std::move(*ops));
    for (size_t k = 0; k < counts.size(); ++k) {
      float* d = nullptr;
      cudaMalloc(&d, (counts[k] + 3) * sizeof(float));
      grads.push_back(d + k % 4);
      averager.Register(grads.back(), counts[k]);
    }
    for (int step = 0; step < 3; ++step) {
      for (size_t k = 0; k < counts.size(); ++k) {
        std::vector<float> x(counts[k]);
        for (size_t i = 0; i < x.size(); ++i) {
          x[i] = static_cast<float>(rl::testing::InputValue(comm.rank(), comm.size(), i + k + step));
        }
        // Pageable copy on the legacy stream; the averager must not pack before it landed.
        cudaMemcpy(grads[k], x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
      }
      for (int k = static_cast<int>(counts.size()) - 1; k >= 0; --k) averager.MarkReady(k);
      CheckOk(averager.Wait(), "averager wait, step " + std::to_string(step));
      bool ok = true;
      for (size_t k = 0; k < counts.size(); ++k) {
        std::vector<float> got(counts[k]);
        cudaMemcpy(got.data(), grads[k], got.size() * sizeof(float), cudaMemcpyDeviceToHost);
        for (size_t i = 0; i < got.size(); ++i) {
          ok = ok && got[i] == static_cast<float>(rl::testing::ExpectedValue(comm.size(), i + k + step,
                                                                             rl::ReduceOp::kAverage));
        }
      }
      Check(ok, "averager result on " + std::to_string(comm.size()) + " rank(s), step " + std::to_string(step));
    }
  }
  for (size_t k = 0; k < grads.size(); ++k) cudaFree(grads[k] - k % 4);
  cudaStreamDestroy(stream);
}

// Every dtype and op, exact, against the CPU reference of the collective tests. Inputs are
// uploaded with a pageable cudaMemcpy right before the call: the communicator's stream must
// wait for it.
void CheckCollectives(rl::Communicator& comm) {
  std::vector<size_t> counts = rl::testing::CollectiveCounts();
  counts.push_back((16u << 20) + 1);  // 64 MiB of fp32: a copy that takes a while to land
  for (rl::DataType type : rl::testing::AllDataTypes()) {
    for (rl::ReduceOp op : {rl::ReduceOp::kSum, rl::ReduceOp::kAverage}) {
      for (size_t count : counts) {
        if (count > (1u << 20) && type != rl::DataType::kFloat32) continue;
        const std::string tag = std::string(rl::DataTypeName(type)) + " " + rl::ReduceOpName(op) +
                                " count=" + std::to_string(count);
        const size_t bytes = count * rl::DataTypeSize(type);
        std::vector<char> input = rl::testing::MakeInput(comm.rank(), comm.size(), count, type);
        void* d = nullptr;
        if (cudaMalloc(&d, bytes + 16) != cudaSuccess) {
          Check(false, tag + ": cudaMalloc");
          continue;
        }
        cudaMemcpy(d, input.data(), bytes, cudaMemcpyHostToDevice);
        CheckOk(comm.AllReduce(d, count, type, op), tag);
        std::vector<char> out(bytes + 1);
        cudaMemcpy(out.data(), d, bytes, cudaMemcpyDeviceToHost);
        const std::string mismatch = rl::testing::CheckResult(out.data(), comm.size(), count, type, op);
        Check(mismatch.empty(), "nccl " + std::to_string(comm.size()) + " rank(s): " + tag + " " + mismatch);
        cudaFree(d);
      }
    }
  }
}

rl::RendezvousOptions RankOptions(int rank, int world_size, int port, int store_fd) {
  rl::RendezvousOptions ro =
      ringleader::harness::LocalRankOptions(rank, world_size, port, store_fd, std::chrono::seconds(60));
  ro.gpu_count = rl::CudaDeviceCount();
  return ro;
}

// One rank (smoke test: averaging over one rank is the identity, so the values prove nothing
// about reduction; the two-rank processes below do).
void TestNcclOneRank() {
  int port = 0;
  auto listener = rl::ListenTcp("127.0.0.1", 0, &port);
  CheckOk(listener.status(), "listen");
  if (!listener.ok()) return;
  auto rdzv = rl::Rendezvous::Join(RankOptions(0, 1, port, listener->release()));
  CheckOk(rdzv.status(), "rendezvous");
  if (!rdzv.ok()) return;
  rl::CommunicatorOptions co;
  co.backend = rl::Backend::kAuto;  // every rank has a GPU: auto must pick NCCL
  auto comm = rl::CreateCommunicator(**rdzv, co);
  CheckOk(comm.status(), "create nccl communicator");
  if (!comm.ok()) return;
  Check((*comm)->backend() == rl::Backend::kNccl, "auto picked nccl");
  CheckCollectives(**comm);
  CheckAveragerOnDevice(**comm);
  CheckTrainerAgainstCpu(**comm, /*overlap=*/true, "1 rank, overlap");
  CheckTrainerAgainstCpu(**comm, /*overlap=*/false, "1 rank, no overlap");
}

// ---- two ranks: this binary re-executed as `--nccl-child MODE RANK PORT STORE_FD` ----

int RunChild(const std::string& mode, int rank, int port, int store_fd) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto rdzv = rl::Rendezvous::Join(RankOptions(rank, 2, port, store_fd));
  CheckOk(rdzv.status(), "rendezvous");
  if (!rdzv.ok()) return 1;
  rl::CommunicatorOptions co;
  co.backend = rl::Backend::kNccl;
  co.local_rank = 0;  // both ranks on the one GPU
  // Long enough for NCCL's init and first connection over loopback sockets, short for a test.
  if (mode == "timeout") co.timeout = std::chrono::seconds(10);
  auto comm = rl::CreateCommunicator(**rdzv, co);
  if (mode == "shared-gpu") {
    // Without distinct NCCL_HOSTIDs two ranks on one GPU are a configuration error, on both.
    Check(!comm.ok() && comm.status().code() == ringleader::StatusCode::kInvalidArgument &&
              comm.status().message().find("would both drive GPU") != std::string::npos,
          "two ranks on one GPU refused as a configuration error: " + comm.status().ToString());
    Check(rl::ExitCodeForFailure(comm.status()) == rl::kExitUsageError, "exit code 2 (permanent)");
    (*rdzv)->Finish();
    std::printf("rank %d: %d checks, %d failures\n", rank, g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
  }
  CheckOk(comm.status(), "create nccl communicator");
  if (!comm.ok()) return 1;
  if (mode == "reduce") {
    CheckCollectives(**comm);
    CheckAveragerOnDevice(**comm);
    CheckTrainerAgainstCpu(**comm, /*overlap=*/true, "2 ranks, overlap");
  } else if (mode == "timeout") {
    CheckOk((*comm)->Barrier(), "barrier before the timeout");
    const std::string released = (*rdzv)->Key("test/released");
    if (rank == 0) {
      // Rank 1 stays alive but never joins this collective.
      float* d = nullptr;
      cudaMalloc(&d, 1024 * sizeof(float));
      const auto start = std::chrono::steady_clock::now();
      const ringleader::Status status = (*comm)->AllReduce(d, 1024, rl::DataType::kFloat32, rl::ReduceOp::kSum);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("rank 0: timed out after %.2f s: %s\n", seconds, status.ToString().c_str());
      Check(status.code() == ringleader::StatusCode::kAborted, "timeout is kAborted");
      Check(rl::ExitCodeForFailure(status) == rl::kExitPeerFailed, "timeout maps to exit 175 (retryable)");
      Check(status.message().find("did not reach it: 1") != std::string::npos, "timeout names rank 1");
      Check(seconds >= 10.0 && seconds < 16.0, "timeout honoured (10 s + at most 2 s + 1.5 s of diagnosis)");
      Check(!(*comm)->AllReduce(d, 1, rl::DataType::kFloat32, rl::ReduceOp::kSum).ok(),
            "communicator unusable after the timeout");
      (void)(*rdzv)->store().Set(released, "1");
      cudaFree(d);
    } else {
      CheckOk((*rdzv)->store().Get(released, rl::DeadlineAfter(std::chrono::seconds(60))).status(),
              "rank 0 released rank 1");
    }
    const auto start = std::chrono::steady_clock::now();
    comm->reset();  // bounded, whether NCCL can finalize with the aborted peer or not
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("rank %d: communicator destroyed in %.2f s\n", rank, seconds);
    Check(seconds < 13.0, "destructor bounded (finalize waits at most the 10 s timeout, then aborts)");
  }
  comm->reset();
  (*rdzv)->Finish();
  std::printf("rank %d: %d checks, %d failures\n", rank, g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

// Runs both ranks of `mode` as processes; `distinct_hosts` gives them different NCCL_HOSTIDs.
// Returns their outputs.
std::vector<std::string> RunTwoRanks(const std::string& mode, bool distinct_hosts) {
  namespace rt = rl::testing;
  int port = 0;
  auto listener = rl::ListenTcp("127.0.0.1", 0, &port);
  CheckOk(listener.status(), "listen");
  if (!listener.ok()) return {};
  const int fd = listener->release();
  rt::TempDir dir;
  std::vector<std::unique_ptr<rt::Subprocess>> ranks;
  for (int r = 0; r < 2; ++r) {
    std::vector<std::pair<std::string, std::string>> env = {
        {"NCCL_HOSTID", distinct_hosts ? "ringleader-gpu-check-rank" + std::to_string(r) : ""}};
    // Two "hosts" on one machine talk over loopback sockets.
    if (std::getenv("NCCL_SOCKET_IFNAME") == nullptr) env.emplace_back("NCCL_SOCKET_IFNAME", "lo");
    if (std::getenv("NCCL_IB_DISABLE") == nullptr) env.emplace_back("NCCL_IB_DISABLE", "1");
    ranks.push_back(std::make_unique<rt::Subprocess>(
        std::vector<std::string>{"/proc/self/exe", "--nccl-child", mode, std::to_string(r),
                                 std::to_string(port), std::to_string(fd)},
        env, dir.path(), "rank" + std::to_string(r), r == 0 ? fd : -1));
  }
  close(fd);
  std::vector<std::string> outputs;
  for (int r = 0; r < 2; ++r) {
    const std::optional<int> code = ranks[r]->Wait(std::chrono::seconds(180));
    const std::string out = ranks[r]->Stdout();
    std::printf("---- %s rank %d (exit %s) ----\n%s%s", mode.c_str(), r,
                code.has_value() ? std::to_string(*code).c_str() : "none: killed after 180 s",
                out.c_str(), ranks[r]->Stderr().c_str());
    Check(code == 0, mode + ": rank " + std::to_string(r) + " passed");
    outputs.push_back(out);
  }
  return outputs;
}

void TestNcclTwoRanks() {
  std::vector<std::string> outputs = RunTwoRanks("reduce", /*distinct_hosts=*/true);
  if (outputs.size() == 2) {
    auto checksum = [](const std::string& out) {
      const size_t at = out.find("checksum=");
      return at == std::string::npos ? std::string("(none)") : out.substr(at + 9, 16);
    };
    Check(checksum(outputs[0]) != "(none)" && checksum(outputs[0]) == checksum(outputs[1]),
          "both ranks end with the same weights: " + checksum(outputs[0]) + " vs " + checksum(outputs[1]));
  }
  RunTwoRanks("shared-gpu", /*distinct_hosts=*/false);
  RunTwoRanks("timeout", /*distinct_hosts=*/true);
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef RINGLEADER_HAVE_NCCL
  if (argc == 6 && std::string(argv[1]) == "--nccl-child") {
    return RunChild(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]));
  }
#endif
  (void)argc, (void)argv;
  int devices = 0;
  cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::printf("SKIP: no CUDA device (%s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount returned 0");
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s\n", prop.name);
  TestKernels();
  TestBucketOps();
#ifdef RINGLEADER_HAVE_NCCL
  TestNcclOneRank();
  TestNcclTwoRanks();
#else
  std::printf("NOTE: built without NCCL; NCCL tests not compiled\n");
#endif
  std::printf("cuda_runtime_test: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
