#include "ringleader/runtime/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ringleader/runtime/gradient_averager.h"

namespace ringleader::runtime {

namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1), a pure function of (seed, stream, index).
float Uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t bits = SplitMix(SplitMix(seed ^ (stream * 0x632be59bd9b4e019ull)) + index);
  return static_cast<float>(static_cast<double>(bits >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

enum Stream : uint64_t { kInputs = 1, kTeacherIn, kTeacherOut, kInitW1, kInitW2 };
constexpr int kTeacherUnits = 8;

struct Model {
  int d, h;
  std::vector<float> w1, b1, w2, b2;  // w1: h x d (row-major), w2: h
  Model(int d_in, int hidden) : d(d_in), h(hidden), w1(hidden * d_in), b1(hidden), w2(hidden), b2(1) {}
};

}  // namespace

SyntheticTask::SyntheticTask(uint64_t seed, int input_dim)
    : seed_(seed), d_(input_dim), teacher_u_(kTeacherUnits * input_dim), teacher_a_(kTeacherUnits) {
  for (size_t i = 0; i < teacher_u_.size(); ++i) {
    teacher_u_[i] = Uniform(seed, kTeacherIn, i) * 2.0f / std::sqrt(static_cast<float>(d_));
  }
  for (int k = 0; k < kTeacherUnits; ++k) teacher_a_[k] = Uniform(seed, kTeacherOut, k);
}

void SyntheticTask::FillBatch(uint64_t first_sample, int count, float* x, float* target) const {
  const int d = d_;
  for (int s = 0; s < count; ++s) {
    float* xs = x + static_cast<size_t>(s) * d;
    for (int i = 0; i < d; ++i) xs[i] = Uniform(seed_, kInputs, (first_sample + s) * d + i);
    float t = 0;
    for (int k = 0; k < kTeacherUnits; ++k) {
      float z = 0;
      for (int i = 0; i < d; ++i) z += teacher_u_[k * d + i] * xs[i];
      t += teacher_a_[k] * std::tanh(z);
    }
    target[s] = t;
  }
}

std::vector<float> SyntheticTask::InitialWeights(int hidden) const {
  const int d = d_;
  std::vector<float> w(static_cast<size_t>(hidden) * d + 2 * hidden + 1, 0.0f);
  for (size_t i = 0; i < static_cast<size_t>(hidden) * d; ++i) {
    w[i] = Uniform(seed_, kInitW1, i) / std::sqrt(static_cast<float>(d));
  }
  float* w2 = w.data() + static_cast<size_t>(hidden) * d + hidden;
  for (int j = 0; j < hidden; ++j) w2[j] = Uniform(seed_, kInitW2, j) / std::sqrt(static_cast<float>(hidden));
  return w;
}

std::string WeightsChecksum(const std::vector<float>& weights) {
  uint64_t hash = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(weights.data());
  for (size_t i = 0; i < weights.size() * sizeof(float); ++i) {
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

StatusOr<TrainerResult> RunTrainer(const TrainerOptions& options, Communicator& comm,
                                   ProgressSink& sink) {
  if (options.steps < 0 || options.batch_size < 1 || options.input_dim < 1 || options.hidden < 1) {
    return InvalidArgumentError("steps must be >= 0 and batch-size, input-dim, hidden >= 1");
  }
  const int d = options.input_dim;
  const int h = options.hidden;
  const int b = options.batch_size;
  const uint64_t seed = options.seed;
  const int64_t global_batch = static_cast<int64_t>(b) * comm.size();

  const SyntheticTask task(seed, d);
  Model model(d, h), grad(d, h);
  {
    const std::vector<float> init = task.InitialWeights(h);
    auto it = init.begin();
    for (auto* part : {&model.w1, &model.b1, &model.w2, &model.b2}) {
      std::copy(it, it + static_cast<long>(part->size()), part->begin());
      it += static_cast<long>(part->size());
    }
  }

  GradientAveragerOptions avg_options;
  avg_options.bucket_bytes = options.bucket_bytes;
  avg_options.overlap = options.overlap;
  GradientAverager averager(comm, avg_options);
  const int id_w1 = averager.Register(grad.w1.data(), grad.w1.size());
  const int id_b1 = averager.Register(grad.b1.data(), grad.b1.size());
  const int id_w2 = averager.Register(grad.w2.data(), grad.w2.size());
  const int id_b2 = averager.Register(grad.b2.data(), grad.b2.size());

  std::vector<float> x(static_cast<size_t>(b) * d), target(b), hidden(static_cast<size_t>(b) * h),
      dy(b);
  auto last_report = std::chrono::steady_clock::now();
  int64_t samples_since_report = 0;
  double loss = 0;
  for (int64_t step = 1; step <= options.steps; ++step) {
    // This rank's shard of the global batch.
    const uint64_t first_sample = static_cast<uint64_t>((step - 1) * global_batch) +
                                  static_cast<uint64_t>(comm.rank()) * b;
    task.FillBatch(first_sample, b, x.data(), target.data());
    // Forward, then backward layer by layer: the output layer's gradients are handed to the
    // averager (and start averaging) while the hidden layer's are still being computed.
    double local_loss = 0;
    for (int s = 0; s < b; ++s) {
      const float* xs = &x[static_cast<size_t>(s) * d];
      float* hs = &hidden[static_cast<size_t>(s) * h];
      float y = model.b2[0];
      for (int j = 0; j < h; ++j) {
        float z = model.b1[j];
        const float* row = &model.w1[static_cast<size_t>(j) * d];
        for (int i = 0; i < d; ++i) z += row[i] * xs[i];
        hs[j] = std::tanh(z);
        y += model.w2[j] * hs[j];
      }
      const float err = y - target[s];
      local_loss += 0.5 * err * err;
      dy[s] = err / static_cast<float>(b);
    }
    local_loss /= b;
    std::fill(grad.w2.begin(), grad.w2.end(), 0.0f);
    grad.b2[0] = 0;
    for (int s = 0; s < b; ++s) {
      const float* hs = &hidden[static_cast<size_t>(s) * h];
      for (int j = 0; j < h; ++j) grad.w2[j] += dy[s] * hs[j];
      grad.b2[0] += dy[s];
    }
    averager.MarkReady(id_b2);
    averager.MarkReady(id_w2);
    std::fill(grad.w1.begin(), grad.w1.end(), 0.0f);
    std::fill(grad.b1.begin(), grad.b1.end(), 0.0f);
    for (int s = 0; s < b; ++s) {
      const float* xs = &x[static_cast<size_t>(s) * d];
      const float* hs = &hidden[static_cast<size_t>(s) * h];
      for (int j = 0; j < h; ++j) {
        const float dz = dy[s] * model.w2[j] * (1.0f - hs[j] * hs[j]);
        float* row = &grad.w1[static_cast<size_t>(j) * d];
        for (int i = 0; i < d; ++i) row[i] += dz * xs[i];
        grad.b1[j] += dz;
      }
    }
    averager.MarkReady(id_b1);
    averager.MarkReady(id_w1);
    RETURN_IF_ERROR(averager.Wait());
    auto sgd = [&](std::vector<float>& w, const std::vector<float>& g) {
      const float lr = static_cast<float>(options.lr);
      for (size_t i = 0; i < w.size(); ++i) w[i] -= lr * g[i];
    };
    sgd(model.w1, grad.w1);
    sgd(model.b1, grad.b1);
    sgd(model.w2, grad.w2);
    sgd(model.b2, grad.b2);
    samples_since_report += global_batch;

    const bool log = step == options.steps || (options.log_every > 0 && step % options.log_every == 0);
    if (log) {
      double mean_loss = local_loss;
      RETURN_IF_ERROR(comm.AllReduce(&mean_loss, 1, DataType::kFloat64, ReduceOp::kAverage));
      loss = mean_loss;
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last_report).count();
      sink.Report({step, options.steps, mean_loss,
                   seconds > 0 ? static_cast<double>(samples_since_report) / seconds : 0.0});
      last_report = now;
      samples_since_report = 0;
    }
  }
  TrainerResult result;
  result.steps = options.steps;
  result.final_loss = loss;
  for (const auto* part : {&model.w1, &model.b1, &model.w2, &model.b2}) {
    result.weights.insert(result.weights.end(), part->begin(), part->end());
  }
  result.checksum = WeightsChecksum(result.weights);
  sink.Finish(result.steps, result.final_loss, result.checksum);
  return result;
}

}  // namespace ringleader::runtime
