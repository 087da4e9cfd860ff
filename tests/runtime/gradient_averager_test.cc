// GradientAverager without peers: bucket layout (16-byte phase of every slot), the
// allocation-failure path, and the hook that binds the communication thread (the device
// selection of CUDA ops), through an injectable BucketOps and a recording communicator.
#include "ringleader/runtime/collectives/gradient_averager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace ringleader::runtime {
namespace {

// One rank: averaging is the identity; records what it was asked to reduce.
class RecordingCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Backend backend() const override { return Backend::kTcp; }
  Status AllReduce(void* buffer, size_t count, DataType, ReduceOp) override {
    calls.push_back({buffer, count});
    return Status::Ok();
  }
  std::vector<std::pair<void*, size_t>> calls;
};

size_t PhaseOf(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16; }

TEST(LayOutBucketTest, EverySlotSharesItsGradientsPhaseWithLittlePadding) {
  alignas(16) static float memory[4096];
  // Gradients at every phase, in an order unrelated to their addresses, odd lengths.
  std::vector<float*> pieces = {memory + 1, memory + 100, memory + 7, memory + 2002, memory + 3000,
                                memory + 13};
  std::vector<size_t> counts = {5, 33, 1, 17, 2, 4};
  const BucketSlots slots = LayOutBucket(pieces, counts);
  ASSERT_EQ(slots.offsets.size(), pieces.size());
  alignas(16) static float bucket[4096];
  size_t end = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(PhaseOf(bucket + slots.offsets[i]), PhaseOf(pieces[i])) << "slot " << i;
    EXPECT_GE(slots.offsets[i], end) << "slot " << i << " overlaps the previous one";
    EXPECT_LE(slots.offsets[i] - end, 3u) << "more than 3 floats of padding before slot " << i;
    end = slots.offsets[i] + counts[i];
  }
  EXPECT_EQ(slots.total, end);
}

TEST(LayOutBucketTest, NeighboursInMemoryGetNeighbouringSlotsWithoutPadding) {
  // One flat parameter buffer (as the demo trainer's): W1, b1, W2, b2.
  alignas(16) static float flat[64 * 32 + 64 + 64 + 1];
  std::vector<float*> pieces = {flat, flat + 2048, flat + 2112, flat + 2176};
  std::vector<size_t> counts = {2048, 64, 64, 1};
  const BucketSlots slots = LayOutBucket(pieces, counts);
  EXPECT_EQ(slots.offsets, (std::vector<size_t>{0, 2048, 2112, 2176}));
  EXPECT_EQ(slots.total, 2177u);
  // Starting mid-buffer (at phase 3): still no padding, phases follow.
  pieces = {flat + 3, flat + 8};
  counts = {5, 6};
  EXPECT_EQ(LayOutBucket(pieces, counts).offsets, (std::vector<size_t>{3, 8}));
}

// Host ops whose Allocate can fail and which record the thread their hooks ran on.
class TestOps : public BucketOps {
 public:
  explicit TestOps(bool fail_allocation) : fail_allocation_(fail_allocation), host_(MakeHostBucketOps()) {}
  void* Allocate(size_t bytes) override {
    ++allocations;
    return fail_allocation_ ? nullptr : host_->Allocate(bytes);
  }
  void Free(void* ptr) override { host_->Free(ptr); }
  Status Pack(float* bucket, const BucketSlots& slots) override {
    ++packs;
    return host_->Pack(bucket, slots);
  }
  Status Unpack(const float* bucket, const BucketSlots& slots) override {
    return host_->Unpack(bucket, slots);
  }
  Status BindThread() override {
    bound_thread = std::this_thread::get_id();
    return Status::Ok();
  }
  std::atomic<int> allocations{0}, packs{0};
  std::thread::id bound_thread;

 private:
  bool fail_allocation_;
  std::unique_ptr<BucketOps> host_;
};

TEST(GradientAveragerTest, AllocationFailureIsAnErrorAndNothingIsReduced) {
  for (bool overlap : {false, true}) {
    RecordingCommunicator comm;
    auto ops = std::make_unique<TestOps>(/*fail_allocation=*/true);
    TestOps* seen = ops.get();
    GradientAveragerOptions options;
    options.overlap = overlap;
    GradientAverager averager(comm, options, std::move(ops));
    std::vector<float> small(10, 1.0f), big(1000, 2.0f);
    averager.Register(small.data(), small.size());
    averager.Register(big.data(), big.size());
    averager.MarkReady(1);
    const Status status = averager.Wait();
    ASSERT_FALSE(status.ok()) << "overlap=" << overlap;
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
    EXPECT_NE(status.message().find("fusion buffer"), std::string::npos) << status.message();
    EXPECT_EQ(seen->allocations.load(), 1);
    EXPECT_EQ(seen->packs.load(), 0);
    // Before the fix the bucket was reduced in place over the first gradient with the
    // bucket's length (1010 floats over a 10-float gradient).
    EXPECT_TRUE(comm.calls.empty()) << "a collective ran over " << comm.calls[0].second << " floats";
    EXPECT_EQ(averager.Wait().code(), StatusCode::kResourceExhausted) << "the error sticks";
  }
}

TEST(GradientAveragerTest, BindsTheCommunicationThreadAndReducesTheWholeBucket) {
  RecordingCommunicator comm;
  auto ops = std::make_unique<TestOps>(/*fail_allocation=*/false);
  TestOps* seen = ops.get();
  GradientAverager averager(comm, {}, std::move(ops));  // overlap on
  std::vector<float> a(10, 1.0f), b(1000, 2.0f);
  averager.Register(a.data(), a.size());
  averager.Register(b.data(), b.size());
  ASSERT_TRUE(averager.Wait().ok());
  EXPECT_NE(seen->bound_thread, std::thread::id());
  EXPECT_NE(seen->bound_thread, std::this_thread::get_id()) << "BindThread ran on the caller";
  ASSERT_EQ(comm.calls.size(), 1u);
  EXPECT_GE(comm.calls[0].second, 1010u);
  EXPECT_LE(comm.calls[0].second, 1013u);
  EXPECT_EQ(a, std::vector<float>(10, 1.0f));
  EXPECT_EQ(b, std::vector<float>(1000, 2.0f));
}

TEST(GradientAveragerTest, SingleGradientBucketReducesExactlyItsLength) {
  RecordingCommunicator comm;
  GradientAveragerOptions options;
  options.bucket_bytes = 64;  // every gradient its own bucket
  options.overlap = false;
  GradientAverager averager(comm, options);
  alignas(16) static float memory[64];
  averager.Register(memory + 1, 20);
  averager.Register(memory + 30, 3);
  ASSERT_TRUE(averager.Wait().ok());
  ASSERT_EQ(comm.calls.size(), 2u);
  // Reverse registration order; each in place over exactly its own length.
  EXPECT_EQ(comm.calls[0], (std::pair<void*, size_t>{memory + 30, 3}));
  EXPECT_EQ(comm.calls[1], (std::pair<void*, size_t>{memory + 1, 20}));
}

}  // namespace
}  // namespace ringleader::runtime
