#pragma once
// GradientAverager: averages a model's gradients across ranks with few, large collectives.
// Gradients are registered once; they are grouped into fusion buckets (default 25 MiB) in
// reverse registration order, because backward produces the last layer's gradients first.
// Inside a bucket the slots follow registration order and each slot starts at the same
// 16-byte phase as its gradient (LayOutBucket), so device copies take the vector path.
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
#include "ringleader/runtime/collectives/communicator.h"

namespace ringleader::runtime {

// Where each gradient of a fusion bucket lives inside the bucket's buffer.
struct BucketSlots {
  std::vector<float*> pieces;   // the gradients
  std::vector<size_t> counts;   // their lengths (floats)
  std::vector<size_t> offsets;  // where each one's slot starts in the buffer (floats)
  size_t total = 0;             // buffer length (floats), padding included
};

// Lays slots out in the given order, each at the smallest offset past the previous slot whose
// 16-byte phase (in a 16-byte-aligned buffer, as malloc and cudaMalloc return) equals its
// gradient's: at most 3 floats of padding per gradient, and every fp32 slot/gradient pair can
// be copied with 16-byte vectors. Gradients that are consecutive in memory get consecutive
// slots with no padding. Pure.
BucketSlots LayOutBucket(std::vector<float*> pieces, std::vector<size_t> counts);

// Moves gradient bytes into and out of fusion buffers.
class BucketOps {
 public:
  virtual ~BucketOps() = default;
  // A zero-filled, 16-byte-aligned buffer, or nullptr when out of memory.
  virtual void* Allocate(size_t bytes) = 0;
  virtual void Free(void* ptr) = 0;
  // Gathers slots.pieces[i] into bucket + slots.offsets[i].
  virtual Status Pack(float* bucket, const BucketSlots& slots) = 0;
  // Scatters the bucket's slots back into the pieces.
  virtual Status Unpack(const float* bucket, const BucketSlots& slots) = 0;
  // Makes prior Pack/Unpack work (and, for device ops, whatever the trainer queued on the
  // ops' stream before MarkReady) visible to the communicator / the trainer.
  virtual Status Synchronize() { return Status::Ok(); }
  // Called first on the averager's communication thread: CUDA ops select their device there
  // (a new thread starts on device 0).
  virtual Status BindThread() { return Status::Ok(); }
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
  // Marks the rest ready, waits for every bucket of this step; returns the first error
  // (including a fusion buffer that could not be allocated: kResourceExhausted, and no
  // collective runs).
  Status Wait();

  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<int> ids;
    BucketSlots slots;
    float* buffer = nullptr;  // nullptr when the bucket is a single gradient (in place)
    int pending = 0;
  };
  // Groups the gradients and allocates the fusion buffers once; on an allocation failure
  // build_error_ is set and no bucket is ever averaged.
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
  Status build_error_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> queue_;
  int done_ = 0;
  Status first_error_;
  bool stop_ = false;
  std::thread comm_thread_;
};

}  // namespace ringleader::runtime
