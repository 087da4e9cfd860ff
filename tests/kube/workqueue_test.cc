#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "ringleader/kube/workqueue.h"

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Clock::time_point Soon() { return Clock::now() + seconds(10); }

TEST(WorkQueueTest, RepeatedAddsCollapse) {
  WorkQueue queue;
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), "b");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, KeyBeingProcessedIsNotHandedOutAgain) {
  WorkQueue queue;
  queue.Add("a");
  auto key = queue.Get();
  ASSERT_EQ(key, "a");
  // Added while processing: held back (dirty) until Done.
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(20)), std::nullopt);
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, NoKeyProcessedByTwoWorkersAtOnce) {
  WorkQueue queue;
  std::mutex mu;
  std::set<std::string> in_progress;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!in_progress.insert(*key).second) overlap = true;
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> lock(mu);
          in_progress.erase(*key);
        }
        ++processed;
        queue.Done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) queue.Add("key-" + std::to_string(i % 5));
  // Wait until everything added has drained, then stop.
  auto deadline = Soon();
  while ((queue.Len() > 0 || processed.load() == 0) && Clock::now() < deadline) {
    std::this_thread::yield();
  }
  queue.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GT(processed.load(), 0);
  EXPECT_LE(processed.load(), 2000);
}

TEST(WorkQueueTest, AddAfterDelaysAndOrders) {
  WorkQueue queue;
  queue.AddAfter("late", milliseconds(60));
  queue.AddAfter("early", milliseconds(20));
  queue.AddAfter("now", Duration{0});
  EXPECT_EQ(queue.DelayedLen(), 2u);
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.Get(), "now");
  auto before = Clock::now();
  EXPECT_EQ(queue.Get(), "early");
  EXPECT_GE(Clock::now() - before, milliseconds(15));
  EXPECT_EQ(queue.Get(), "late");
  EXPECT_EQ(queue.DelayedLen(), 0u);
}

TEST(WorkQueueTest, AddAfterCollapsesWithPendingKey) {
  WorkQueue queue;
  queue.Add("a");
  queue.AddAfter("a", milliseconds(1));
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  // The delayed add fires once more (like client-go), then nothing.
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  queue.Done("a");
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(20)), std::nullopt);
}

TEST(WorkQueueTest, RateLimitedBackoffAndForget) {
  WorkQueue queue(std::make_unique<ItemExponentialFailureRateLimiter>(milliseconds(1), seconds(1)));
  queue.AddRateLimited("a");
  queue.AddRateLimited("a");
  queue.AddRateLimited("a");
  EXPECT_EQ(queue.NumRequeues("a"), 3);
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  queue.Done("a");
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
}

TEST(WorkQueueTest, ShutDownWakesAllWorkers) {
  WorkQueue queue;
  std::atomic<int> returned{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      EXPECT_EQ(queue.Get(), std::nullopt);
      ++returned;
    });
  }
  queue.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(returned.load(), 4);
  EXPECT_TRUE(queue.ShuttingDown());
  queue.Add("ignored");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWakesWorkerWaitingOnDelayedItem) {
  WorkQueue queue;
  queue.AddAfter("far", seconds(3600));
  std::thread worker([&] { EXPECT_EQ(queue.Get(), std::nullopt); });
  queue.ShutDown();
  worker.join();
}

}  // namespace
}  // namespace ringleader::kube
