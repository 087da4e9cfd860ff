#include "ringleader/runtime/collectives/gradient_averager.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace ringleader::runtime {

namespace {

class HostBucketOps : public BucketOps {
 public:
  // calloc: zeroed padding between slots (it is all-reduced with the rest of the buffer).
  void* Allocate(size_t bytes) override { return std::calloc(1, bytes); }
  void Free(void* ptr) override { std::free(ptr); }
  Status Pack(float* bucket, const BucketSlots& slots) override {
    for (size_t i = 0; i < slots.pieces.size(); ++i) {
      std::memcpy(bucket + slots.offsets[i], slots.pieces[i], slots.counts[i] * sizeof(float));
    }
    return Status::Ok();
  }
  Status Unpack(const float* bucket, const BucketSlots& slots) override {
    for (size_t i = 0; i < slots.pieces.size(); ++i) {
      std::memcpy(slots.pieces[i], bucket + slots.offsets[i], slots.counts[i] * sizeof(float));
    }
    return Status::Ok();
  }
};

}  // namespace

BucketSlots LayOutBucket(std::vector<float*> pieces, std::vector<size_t> counts) {
  constexpr size_t kFloatsPer16Bytes = 16 / sizeof(float);
  BucketSlots slots;
  slots.offsets.reserve(pieces.size());
  size_t offset = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const size_t phase =
        (reinterpret_cast<uintptr_t>(pieces[i]) / sizeof(float)) % kFloatsPer16Bytes;
    offset += (phase + kFloatsPer16Bytes - offset % kFloatsPer16Bytes) % kFloatsPer16Bytes;
    slots.offsets.push_back(offset);
    offset += counts[i];
  }
  slots.total = offset;
  slots.pieces = std::move(pieces);
  slots.counts = std::move(counts);
  return slots;
}

std::unique_ptr<BucketOps> MakeHostBucketOps() { return std::make_unique<HostBucketOps>(); }

GradientAverager::GradientAverager(Communicator& comm, GradientAveragerOptions options,
                                   std::unique_ptr<BucketOps> ops)
    : comm_(comm), options_(options), ops_(std::move(ops)) {}

GradientAverager::~GradientAverager() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (comm_thread_.joinable()) comm_thread_.join();
  for (auto& b : buckets_) {
    if (b.buffer != nullptr) ops_->Free(b.buffer);
  }
}

int GradientAverager::Register(float* data, size_t count) {
  grads_.push_back(data);
  counts_.push_back(count);
  return static_cast<int>(grads_.size()) - 1;
}

void GradientAverager::BuildBuckets() {
  built_ = true;
  const size_t bucket_floats = std::max<size_t>(options_.bucket_bytes / sizeof(float), 1);
  bucket_of_.assign(grads_.size(), -1);
  ready_.assign(grads_.size(), false);
  // Membership in reverse registration order (backward finishes the last layers first)...
  std::vector<std::vector<int>> groups;
  size_t group_floats = 0;
  for (int id = static_cast<int>(grads_.size()) - 1; id >= 0; --id) {
    if (groups.empty() || (group_floats > 0 && group_floats + counts_[id] > bucket_floats)) {
      groups.emplace_back();
      group_floats = 0;
    }
    groups.back().push_back(id);
    group_floats += counts_[id];
  }
  // ...slots in registration order: gradients that are neighbours in memory (one flat
  // parameter buffer) become neighbouring slots with no padding.
  for (auto& ids : groups) {
    std::sort(ids.begin(), ids.end());
    Bucket& b = buckets_.emplace_back();
    std::vector<float*> pieces;
    std::vector<size_t> counts;
    for (int id : ids) {
      pieces.push_back(grads_[id]);
      counts.push_back(counts_[id]);
      bucket_of_[id] = static_cast<int>(buckets_.size()) - 1;
    }
    b.ids = std::move(ids);
    b.slots = LayOutBucket(std::move(pieces), std::move(counts));
    b.pending = static_cast<int>(b.ids.size());
  }
  for (size_t k = 0; k < buckets_.size(); ++k) {
    Bucket& b = buckets_[k];
    if (b.ids.size() < 2) continue;  // a single gradient is averaged in place
    const size_t bytes = b.slots.total * sizeof(float);
    b.buffer = static_cast<float*>(ops_->Allocate(bytes));
    if (b.buffer == nullptr) {
      // Running the bucket's collective over the first gradient alone would read and write
      // past its end: fail the step instead.
      build_error_ = Status(StatusCode::kResourceExhausted,
                            "gradient averaging: could not allocate the " + std::to_string(bytes) +
                                "-byte fusion buffer of bucket " + std::to_string(k) + " (" +
                                std::to_string(b.ids.size()) + " gradients)");
      return;
    }
  }
  if (options_.overlap) comm_thread_ = std::thread([this] { CommLoop(); });
}

Status GradientAverager::AverageBucket(Bucket& b) {
  // The gradients may still be written by work queued on the ops' stream before MarkReady.
  RETURN_IF_ERROR(ops_->Synchronize());
  if (b.ids.size() == 1) {
    return comm_.AllReduce(b.slots.pieces[0], b.slots.counts[0], DataType::kFloat32,
                           ReduceOp::kAverage);
  }
  if (b.buffer == nullptr) return InternalError("gradient averaging: bucket without a buffer");
  RETURN_IF_ERROR(ops_->Pack(b.buffer, b.slots));
  RETURN_IF_ERROR(ops_->Synchronize());
  RETURN_IF_ERROR(comm_.AllReduce(b.buffer, b.slots.total, DataType::kFloat32, ReduceOp::kAverage));
  RETURN_IF_ERROR(ops_->Unpack(b.buffer, b.slots));
  return ops_->Synchronize();
}

void GradientAverager::CommLoop() {
  // Buckets are averaged strictly in index order on every rank, so collectives match up
  // even if ranks mark gradients ready in different orders.
  int next = 0;
  if (Status bound = ops_->BindThread(); !bound.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    first_error_ = bound;
  }
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || (!queue_.empty() && std::find(queue_.begin(), queue_.end(), next) != queue_.end());
      });
      if (stop_) return;
      queue_.erase(std::find(queue_.begin(), queue_.end(), next));
    }
    Status status = first_error_.ok() ? AverageBucket(buckets_[next]) : first_error_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status.ok() && first_error_.ok()) first_error_ = status;
      ++done_;
    }
    cv_.notify_all();
    next = (next + 1) % static_cast<int>(buckets_.size());
  }
}

void GradientAverager::Enqueue(int bucket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(bucket);
  }
  cv_.notify_all();
}

void GradientAverager::MarkReady(int id) {
  if (!built_) BuildBuckets();
  if (!build_error_.ok() || ready_[id]) return;
  ready_[id] = true;
  Bucket& b = buckets_[bucket_of_[id]];
  if (--b.pending == 0 && options_.overlap) Enqueue(bucket_of_[id]);
}

Status GradientAverager::Wait() {
  if (!built_) BuildBuckets();
  if (!build_error_.ok()) return build_error_;
  for (size_t id = 0; id < grads_.size(); ++id) MarkReady(static_cast<int>(id));
  Status status;
  if (options_.overlap) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ == static_cast<int>(buckets_.size()); });
    done_ = 0;
    status = first_error_;
  } else {
    for (auto& b : buckets_) {
      if (status.ok()) status = AverageBucket(b);
    }
  }
  for (auto& b : buckets_) b.pending = static_cast<int>(b.ids.size());
  ready_.assign(grads_.size(), false);
  return status;
}

}  // namespace ringleader::runtime
