#pragma once
// GradientAverager: averages a model's gradients across ranks with few, large collectives.
// Gradients are registered once; they are grouped into fusion buckets (default 25 MiB) in
// reverse registration order, because backward produces the last layer's gradients first.
// During backward the trainer calls MarkReady(id) as each gradient is final; when every
// gradient of a bucket is ready, the bucket is packed, averaged and unpacked on a background
// communication thread while backward continues (overlap). Wait() finishes the step.
//
// Buffers live where the communicator wants them (host memory, or device memory for NCCL);
// BucketOps moves bytes there (memcpy on the CPU, CUDA kernels on a side stream on the GPU).
//
// Thread-safety: Register/MarkReady/Wait from the training thread only; the averager owns
// its communication thread. Gradients must not be touched between MarkReady and Wait.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/communicator.h"

namespace ringleader::runtime {

// Moves gradient bytes into and out of fusion buffers.
class BucketOps {
 public:
  virtual ~BucketOps() = default;
  virtual void* Allocate(size_t bytes) = 0;
  virtual void Free(void* ptr) = 0;
  // Gathers pieces[i] (count[i] floats) contiguously into `bucket`.
  virtual Status Pack(float* bucket, const std::vector<float*>& pieces,
                      const std::vector<size_t>& counts) = 0;
  // Scatters `bucket` back into pieces.
  virtual Status Unpack(const float* bucket, const std::vector<float*>& pieces,
                        const std::vector<size_t>& counts) = 0;
  // Makes prior Pack/Unpack work visible to the communicator / the trainer.
  virtual Status Synchronize() { return Status::Ok(); }
};

// Host memory, memcpy.
std::unique_ptr<BucketOps> MakeHostBucketOps();

struct GradientAveragerOptions {
  size_t bucket_bytes = 25u << 20;
  // Average buckets on a background thread as they become ready (false: all in Wait()).
  bool overlap = true;
};

class GradientAverager {
 public:
  GradientAverager(Communicator& comm, GradientAveragerOptions options,
                   std::unique_ptr<BucketOps> ops = MakeHostBucketOps());
  ~GradientAverager();

  // Registers an fp32 gradient of `count` elements; returns its id. Before the first step.
  int Register(float* data, size_t count);
  void MarkReady(int id);
  // Marks the rest ready, waits for every bucket of this step; returns the first error.
  Status Wait();
  // Convenience: Wait() with every gradient marked ready at once.
  Status AverageAll() { return Wait(); }

  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<int> ids;
    std::vector<float*> pieces;
    std::vector<size_t> counts;
    size_t total = 0;
    float* buffer = nullptr;  // nullptr when the bucket is a single gradient (in place)
    int pending = 0;
  };
  void BuildBuckets();
  Status AverageBucket(Bucket& bucket);
  void CommLoop();
  void Enqueue(int bucket);

  Communicator& comm_;
  GradientAveragerOptions options_;
  std::unique_ptr<BucketOps> ops_;
  std::vector<float*> grads_;
  std::vector<size_t> counts_;
  std::vector<int> bucket_of_;
  std::vector<bool> ready_;
  std::vector<Bucket> buckets_;
  bool built_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> queue_;
  int done_ = 0;
  Status first_error_;
  bool stop_ = false;
  std::thread comm_thread_;
};

}  // namespace ringleader::runtime
