#include "ringleader/runtime/app/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <algorithm>

#include "ringleader/runtime/app/checkpoint.h"
#include "ringleader/runtime/collectives/gradient_averager.h"

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
  return Fnv1a64Hex(weights.data(), weights.size() * sizeof(float));
}

namespace {

constexpr char kStateMagic[8] = {'R', 'L', 'M', 'L', 'P', 'v', '1', '\0'};

template <typename T>
void Append(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
bool Take(const std::string& in, size_t* pos, T* value) {
  if (in.size() - *pos < sizeof(T)) return false;
  std::memcpy(value, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

std::vector<float> Flatten(const Model& model) {
  std::vector<float> out;
  for (const auto* part : {&model.w1, &model.b1, &model.w2, &model.b2}) {
    out.insert(out.end(), part->begin(), part->end());
  }
  return out;
}

void Unflatten(const std::vector<float>& flat, Model* model) {
  auto it = flat.begin();
  for (auto* part : {&model->w1, &model->b1, &model->w2, &model->b2}) {
    std::copy(it, it + static_cast<long>(part->size()), part->begin());
    it += static_cast<long>(part->size());
  }
}

// Every rank proposes its newest valid checkpoints; all agree on the newest step that every
// rank holds (an all-gather through one all-reduce of a table with a row per rank). A rank
// killed while writing step s still has s - every, so the gang resumes from there rather than
// from scratch, and no rank ever loads a step another rank does not have.
StatusOr<int64_t> AgreeOnResumeStep(Communicator& comm, const std::vector<int64_t>& mine) {
  constexpr size_t kCandidates = 8;
  const size_t n = static_cast<size_t>(comm.size());
  std::vector<int64_t> table(n * kCandidates, 0);  // step + 1; 0 = empty
  for (size_t i = 0; i < std::min(kCandidates, mine.size()); ++i) {
    table[static_cast<size_t>(comm.rank()) * kCandidates + i] = mine[i] + 1;
  }
  RETURN_IF_ERROR(comm.AllReduce(table.data(), table.size(), DataType::kInt64, ReduceOp::kSum));
  int64_t best = 0;
  for (size_t i = 0; i < kCandidates; ++i) {
    const int64_t candidate = table[i];  // rank 0's proposals
    if (candidate <= best) continue;
    bool everyone = true;
    for (size_t r = 1; r < n && everyone; ++r) {
      const int64_t* row = &table[r * kCandidates];
      everyone = std::find(row, row + kCandidates, candidate) != row + kCandidates;
    }
    if (everyone) best = candidate;
  }
  return best - 1;  // -1: no common checkpoint
}

}  // namespace

std::string EncodeTrainerState(int64_t step, double loss, const std::vector<float>& weights) {
  std::string out(kStateMagic, sizeof(kStateMagic));
  Append(&out, step);
  Append(&out, loss);
  Append(&out, static_cast<uint64_t>(weights.size()));
  out.append(reinterpret_cast<const char*>(weights.data()), weights.size() * sizeof(float));
  return out;
}

Status DecodeTrainerState(const std::string& payload, size_t weight_count, int64_t* step, double* loss,
                          std::vector<float>* weights) {
  size_t pos = sizeof(kStateMagic);
  uint64_t count = 0;
  if (payload.size() < pos || std::memcmp(payload.data(), kStateMagic, pos) != 0 || !Take(payload, &pos, step) ||
      !Take(payload, &pos, loss) || !Take(payload, &pos, &count)) {
    return InvalidArgumentError("not a demo-trainer checkpoint");
  }
  if (count != weight_count || payload.size() - pos != count * sizeof(float)) {
    return InvalidArgumentError("holds " + std::to_string(count) + " weights, the model has " +
                                std::to_string(weight_count));
  }
  weights->resize(count);
  std::memcpy(weights->data(), payload.data() + pos, count * sizeof(float));
  return Status::Ok();
}

std::string TrainerFingerprint(const TrainerOptions& o) {
  char text[160];
  std::snprintf(text, sizeof(text), "mlp input_dim=%d hidden=%d batch_size=%d lr=%.17g seed=%llu", o.input_dim,
                o.hidden, o.batch_size, o.lr, static_cast<unsigned long long>(o.seed));
  return text;
}

namespace {

struct GradientIds {
  int w1, b1, w2, b2;
};

// One step's forward pass and backward pass over this rank's batch: fills `grad` and hands
// each layer's gradients to the averager as soon as they are complete (the output layer's
// first, so they average while the hidden layer's are computed). Returns the batch's mean loss.
double ForwardBackward(const Model& model, const std::vector<float>& x, const std::vector<float>& target,
                       int b, std::vector<float>& hidden, std::vector<float>& dy, Model& grad,
                       GradientAverager& averager, const GradientIds& ids) {
  const int d = model.d;
  const int h = model.h;
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
  averager.MarkReady(ids.b2);
  averager.MarkReady(ids.w2);
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
  averager.MarkReady(ids.b1);
  averager.MarkReady(ids.w1);
  return local_loss;
}

// Opens the checkpoint directory (nullopt without one) and, when the ranks agree on a step they
// all hold, loads it into `model` and `loss` and records it in `result` and `saved_step`.
StatusOr<std::optional<CheckpointStore>> OpenAndResume(const TrainerOptions& options, Communicator& comm,
                                                       std::FILE* log, Model& model, double& loss,
                                                       TrainerResult& result, int64_t& saved_step) {
  if (options.checkpoint_dir.empty()) return std::optional<CheckpointStore>();
  CheckpointOptions ck;
  ck.dir = options.checkpoint_dir;
  ck.rank = comm.rank();
  ck.world_size = comm.size();
  ck.fingerprint = TrainerFingerprint(options);
  ck.keep = options.checkpoint_keep;
  ASSIGN_OR_RETURN(CheckpointStore checkpoints, CheckpointStore::Open(ck));
  ASSIGN_OR_RETURN(const int64_t resume_step, AgreeOnResumeStep(comm, checkpoints.ValidSteps()));
  if (resume_step >= 0) {
    ASSIGN_OR_RETURN(Checkpoint checkpoint, checkpoints.Load(resume_step));
    std::vector<float> weights;
    int64_t step = 0;
    RETURN_IF_ERROR(DecodeTrainerState(checkpoint.payload, Flatten(model).size(), &step, &loss, &weights));
    Unflatten(weights, &model);
    result.resumed_from = step;
    saved_step = step;
    std::fprintf(log, "resumed from step=%lld\n", static_cast<long long>(step));
    std::fflush(log);
  }
  return std::optional<CheckpointStore>(std::move(checkpoints));
}

}  // namespace

StatusOr<TrainerResult> RunTrainer(const TrainerOptions& options, Communicator& comm,
                                   ProgressSink& sink) {
  if (options.steps < 0 || options.batch_size < 1 || options.input_dim < 1 || options.hidden < 1 ||
      options.checkpoint_every < 0) {
    return InvalidArgumentError("steps and checkpoint-every must be >= 0 and batch-size, input-dim, hidden >= 1");
  }
  const int d = options.input_dim;
  const int h = options.hidden;
  const int b = options.batch_size;
  const uint64_t seed = options.seed;
  const int64_t global_batch = static_cast<int64_t>(b) * comm.size();
  std::FILE* log = options.log != nullptr ? options.log : stdout;
  auto stop_requested = [&] { return options.stop_requested != nullptr && options.stop_requested->load(); };

  const SyntheticTask task(seed, d);
  Model model(d, h), grad(d, h);
  Unflatten(task.InitialWeights(h), &model);

  TrainerResult result;
  double loss = 0;
  int64_t saved_step = -1;
  ASSIGN_OR_RETURN(std::optional<CheckpointStore> checkpoints,
                   OpenAndResume(options, comm, log, model, loss, result, saved_step));
  // Saves the model as it is after `step` (a completed step) unless that is already on disk.
  auto save = [&](int64_t step) -> Status {
    if (!checkpoints.has_value() || step <= saved_step || step == 0) return Status::Ok();
    RETURN_IF_ERROR(checkpoints->Save(step, EncodeTrainerState(step, loss, Flatten(model))));
    saved_step = step;
    return Status::Ok();
  };

  GradientAveragerOptions avg_options;
  avg_options.bucket_bytes = options.bucket_bytes;
  avg_options.overlap = options.overlap;
  GradientAverager averager(comm, avg_options);
  GradientIds ids;
  ids.w1 = averager.Register(grad.w1.data(), grad.w1.size());
  ids.b1 = averager.Register(grad.b1.data(), grad.b1.size());
  ids.w2 = averager.Register(grad.w2.data(), grad.w2.size());
  ids.b2 = averager.Register(grad.b2.data(), grad.b2.size());

  std::vector<float> x(static_cast<size_t>(b) * d), target(b), hidden(static_cast<size_t>(b) * h),
      dy(b);
  auto last_report = std::chrono::steady_clock::now();
  int64_t samples_since_report = 0;
  int64_t completed = result.resumed_from;
  for (int64_t step = completed + 1; step <= options.steps; ++step) {
    if (stop_requested()) break;
    // This rank's shard of the global batch.
    const uint64_t first_sample = static_cast<uint64_t>((step - 1) * global_batch) +
                                  static_cast<uint64_t>(comm.rank()) * b;
    task.FillBatch(first_sample, b, x.data(), target.data());
    const double local_loss = ForwardBackward(model, x, target, b, hidden, dy, grad, averager, ids);
    if (Status averaged = averager.Wait(); !averaged.ok()) {
      // The step is abandoned: the model is still that of the last completed step. When this
      // rank is being stopped (its peers got the same SIGTERM and left first), keep that step.
      if (stop_requested()) (void)save(completed);
      return averaged;
    }
    auto sgd = [&](std::vector<float>& w, const std::vector<float>& g) {
      const float lr = static_cast<float>(options.lr);
      for (size_t i = 0; i < w.size(); ++i) w[i] -= lr * g[i];
    };
    sgd(model.w1, grad.w1);
    sgd(model.b1, grad.b1);
    sgd(model.w2, grad.w2);
    sgd(model.b2, grad.b2);
    samples_since_report += global_batch;

    const bool log_step = step == options.steps || (options.log_every > 0 && step % options.log_every == 0);
    if (log_step) {
      double mean_loss = local_loss;
      if (Status reduced = comm.AllReduce(&mean_loss, 1, DataType::kFloat64, ReduceOp::kAverage);
          !reduced.ok()) {
        if (stop_requested()) (void)save(step);  // the weights already hold this step
        return reduced;
      }
      loss = mean_loss;
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last_report).count();
      sink.Report({step, options.steps, mean_loss,
                   seconds > 0 ? static_cast<double>(samples_since_report) / seconds : 0.0});
      last_report = now;
      samples_since_report = 0;
    }
    completed = step;
    if (options.checkpoint_every > 0 && step % options.checkpoint_every == 0) RETURN_IF_ERROR(save(step));
  }
  result.steps = completed;
  result.stopped = completed < options.steps;
  RETURN_IF_ERROR(save(completed));
  result.final_loss = loss;
  result.weights = Flatten(model);
  result.checksum = WeightsChecksum(result.weights);
  if (!result.stopped) sink.Finish(result.steps, result.final_loss, result.checksum);
  return result;
}

}  // namespace ringleader::runtime
