#include "ringleader/runtime/gradient_averager.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ringleader::runtime {

namespace {

class HostBucketOps : public BucketOps {
 public:
  void* Allocate(size_t bytes) override { return std::malloc(bytes); }
  void Free(void* ptr) override { std::free(ptr); }
  Status Pack(float* bucket, const std::vector<float*>& pieces,
              const std::vector<size_t>& counts) override {
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::memcpy(bucket, pieces[i], counts[i] * sizeof(float));
      bucket += counts[i];
    }
    return Status::Ok();
  }
  Status Unpack(const float* bucket, const std::vector<float*>& pieces,
                const std::vector<size_t>& counts) override {
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::memcpy(pieces[i], bucket, counts[i] * sizeof(float));
      bucket += counts[i];
    }
    return Status::Ok();
  }
};

}  // namespace

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
  for (int id = static_cast<int>(grads_.size()) - 1; id >= 0; --id) {
    if (buckets_.empty() || buckets_.back().total + counts_[id] > bucket_floats) {
      if (buckets_.empty() || buckets_.back().total > 0) buckets_.emplace_back();
    }
    Bucket& b = buckets_.back();
    b.ids.push_back(id);
    b.pieces.push_back(grads_[id]);
    b.counts.push_back(counts_[id]);
    b.total += counts_[id];
    bucket_of_[id] = static_cast<int>(buckets_.size()) - 1;
  }
  for (auto& b : buckets_) {
    b.pending = static_cast<int>(b.ids.size());
    if (b.ids.size() > 1) b.buffer = static_cast<float*>(ops_->Allocate(b.total * sizeof(float)));
  }
  if (options_.overlap) comm_thread_ = std::thread([this] { CommLoop(); });
}

Status GradientAverager::AverageBucket(Bucket& b) {
  if (b.buffer == nullptr) {
    return comm_.AllReduce(b.pieces[0], b.total, DataType::kFloat32, ReduceOp::kAverage);
  }
  RETURN_IF_ERROR(ops_->Pack(b.buffer, b.pieces, b.counts));
  RETURN_IF_ERROR(ops_->Synchronize());
  RETURN_IF_ERROR(comm_.AllReduce(b.buffer, b.total, DataType::kFloat32, ReduceOp::kAverage));
  RETURN_IF_ERROR(ops_->Unpack(b.buffer, b.pieces, b.counts));
  return ops_->Synchronize();
}

void GradientAverager::CommLoop() {
  // Buckets are averaged strictly in index order on every rank, so collectives match up
  // even if ranks mark gradients ready in different orders.
  int next = 0;
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
  if (ready_[id]) return;
  ready_[id] = true;
  Bucket& b = buckets_[bucket_of_[id]];
  if (--b.pending == 0 && options_.overlap) Enqueue(bucket_of_[id]);
}

Status GradientAverager::Wait() {
  if (!built_) BuildBuckets();
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
