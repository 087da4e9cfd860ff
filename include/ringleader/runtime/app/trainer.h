#pragma once
// The demo data-parallel trainer behind `ringleader-worker train`: a one-hidden-layer MLP
// (tanh) regressing a fixed random "teacher" network on synthetic inputs. Everything derives
// from --seed: the teacher, the initial weights and every sample (sample i of the global
// stream is a pure function of (seed, i)). Rank r of N takes samples
// [step*N*b + r*b, step*N*b + (r+1)*b), so N ranks with batch b see exactly the samples one
// rank with batch N*b sees, and averaging per-rank mean gradients gives the global mean
// gradient: the two runs match up to floating-point summation order (tested).
//
// Thread-safety: RunTrainer is reentrant (tests run several ranks as threads).

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/app/progress_sink.h"

namespace ringleader::runtime {

struct TrainerOptions {
  int64_t steps = 200;
  int batch_size = 32;  // per rank
  double lr = 0.05;
  uint64_t seed = 1;
  int64_t log_every = 10;
  int input_dim = 32;
  int hidden = 64;
  size_t bucket_bytes = 25u << 20;
  bool overlap = true;
  // Checkpoints (see checkpoint.h): "" = none. With a directory, training resumes from the
  // newest step every rank has a valid checkpoint of, and saves every `checkpoint_every` steps
  // (0: only when stopped) and at the end.
  std::string checkpoint_dir;
  int64_t checkpoint_every = 20;
  int checkpoint_keep = 3;
  // Set asynchronously (SIGTERM): the trainer stops after the current step, or abandons it if
  // its collective fails, saves a checkpoint of the last completed step if it has none, and
  // returns with `stopped` set.
  const std::atomic<bool>* stop_requested = nullptr;
  // Where "resumed from step=<s>" and checkpoint warnings go; nullptr: stdout / stderr.
  std::FILE* log = nullptr;
};

// The synthetic task shared by the CPU and GPU trainers: teacher t(x) = sum_k a_k tanh(u_k.x).
class SyntheticTask {
 public:
  SyntheticTask(uint64_t seed, int input_dim);
  // Fills x (count x input_dim, row-major) and target (count) for the global samples
  // [first_sample, first_sample + count).
  void FillBatch(uint64_t first_sample, int count, float* x, float* target) const;
  // Initial weights, flattened: W1 (hidden x input_dim, row-major), b1 (hidden), W2 (hidden), b2.
  std::vector<float> InitialWeights(int hidden) const;

 private:
  uint64_t seed_;
  int d_;
  std::vector<float> teacher_u_, teacher_a_;
};

struct TrainerResult {
  int64_t steps = 0;          // the last completed step
  int64_t resumed_from = 0;   // the checkpoint's step, 0 when training started afresh
  bool stopped = false;       // stop_requested ended training before options.steps
  double final_loss = 0;
  std::string checksum;        // 16 hex digits, FNV-1a 64 of the weights' bytes
  std::vector<float> weights;  // W1, b1, W2, b2 flattened
};

// Trains on the CPU; gradients are averaged over `comm` through a GradientAverager.
StatusOr<TrainerResult> RunTrainer(const TrainerOptions& options, Communicator& comm,
                                   ProgressSink& sink);

std::string WeightsChecksum(const std::vector<float>& weights);

// The demo trainer's checkpoint payload: step, the last reported mean loss and the weights
// (plain SGD keeps no other optimizer state, and the data order is a pure function of the step).
std::string EncodeTrainerState(int64_t step, double loss, const std::vector<float>& weights);
// kInvalidArgument when the bytes are not such a payload or hold another number of weights.
Status DecodeTrainerState(const std::string& payload, size_t weight_count, int64_t* step, double* loss,
                          std::vector<float>* weights);

// What a checkpoint of these options means (model shape, task, batch, learning rate): resuming
// under other options would not continue the same run.
std::string TrainerFingerprint(const TrainerOptions& options);

// The same training on the GPU (cuBLAS forward/backward, CUDA kernels, gradients averaged on
// device memory through `comm`, which must be the nccl backend). Compiled with CUDA only.
StatusOr<TrainerResult> RunGpuTrainer(const TrainerOptions& options, Communicator& comm,
                                      ProgressSink& sink);

}  // namespace ringleader::runtime
