#include "ringleader/kube/workqueue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <set>
#include <thread>

namespace ringleader::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Clock::time_point Soon() { return Clock::now() + seconds(10); }

// A fresh queue for each test, and when the test started.
class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueue queue;
  const Clock::time_point started = Clock::now();
};

TEST_F(WorkQueueTest, RepeatedAddsCollapse) {
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), "b");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST_F(WorkQueueTest, KeyBeingProcessedIsNotHandedOutAgain) {
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

// Polls `condition` until it holds or 10 s pass.
template <typename Pred>
bool WaitUntil(Pred condition) {
  auto deadline = Soon();
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));  // polling a condition, not sleeping for it
  }
  return true;
}

// Deterministic: while one worker holds the key, the other three are provably blocked in
// Get() and re-adds of the key are held back; after Done() it is handed out exactly once more.
TEST_F(WorkQueueTest, HeldKeyIsNotHandedToWaitingWorkers) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> processed{0}, concurrent{0}, max_concurrent{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        int now = ++concurrent;
        int seen = max_concurrent.load();
        while (now > seen && !max_concurrent.compare_exchange_weak(seen, now)) {
        }
        if (processed++ == 0) {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return release; });
        }
        --concurrent;
        queue.Done(*key);
      }
    });
  }
  queue.Add("k");
  // One worker holds "k"; the other three are blocked in Get().
  ASSERT_TRUE(WaitUntil([&] { return processed.load() == 1 && queue.Waiters() == 3; }));
  for (int i = 0; i < 10; ++i) queue.Add("k");
  EXPECT_EQ(queue.Len(), 0u);  // dirty, held back until Done
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(WaitUntil([&] { return processed.load() == 2 && queue.Waiters() == 4; }));
  queue.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(processed.load(), 2);  // the ten re-adds collapsed into one
  EXPECT_EQ(max_concurrent.load(), 1);
}

// Stress: each processing holds its key for 2 ms while other workers try for it and the key
// keeps being re-added. Never two at once, and no add is lost: every key is processed after
// its last Add.
TEST_F(WorkQueueTest, NoKeyProcessedByTwoWorkersAtOnce) {
  constexpr int kKeys = 3;
  std::mutex mu;
  std::set<std::string> in_progress;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::array<std::atomic<int>, kKeys> added{}, seen_by_worker{};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        int index = std::stoi(key->substr(4));
        // Everything added before this Get() returned is covered by this processing.
        seen_by_worker[index] = added[index].load();
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!in_progress.insert(*key).second) overlap = true;
        }
        std::this_thread::sleep_for(milliseconds(2));  // the overlap window (simulated work)
        {
          std::lock_guard<std::mutex> lock(mu);
          in_progress.erase(*key);
        }
        ++processed;
        queue.Done(*key);
      }
    });
  }
  for (int i = 0; i < 300; ++i) {
    int index = i % kKeys;
    ++added[index];
    queue.Add("key-" + std::to_string(index));
    if (i % 10 == 0) std::this_thread::sleep_for(milliseconds(1));  // spread the adds out
  }
  ASSERT_TRUE(WaitUntil([&] {
    for (int k = 0; k < kKeys; ++k) {
      if (seen_by_worker[k].load() != added[k].load()) return false;
    }
    return queue.Len() == 0 && queue.Waiters() == 4;
  }));
  queue.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_FALSE(overlap.load());
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(seen_by_worker[k].load(), 100) << k;
  EXPECT_GE(processed.load(), kKeys);
}

TEST_F(WorkQueueTest, AddAfterDelaysAndOrders) {
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

TEST_F(WorkQueueTest, AddAfterCollapsesWithPendingKey) {
  queue.Add("a");
  queue.AddAfter("a", milliseconds(1));
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  // The delayed add fires once more (like client-go), then nothing.
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  queue.Done("a");
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(20)), std::nullopt);
}

TEST_F(WorkQueueTest, RepeatedAddAfterKeepsOneEntryPerKey) {
  for (int i = 0; i < 1000; ++i) queue.AddAfter("a", milliseconds(20 + i));
  EXPECT_EQ(queue.DelayedLen(), 1u);  // not 1000 entries
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  queue.Done("a");
  // Processed once: nothing else was left waiting.
  EXPECT_EQ(queue.DelayedLen(), 0u);
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(100)), std::nullopt);
}

TEST_F(WorkQueueTest, EarlierAddAfterOverridesALaterOne) {
  queue.AddAfter("a", seconds(3600));
  auto started = Clock::now();
  queue.AddAfter("a", milliseconds(20));
  EXPECT_EQ(queue.DelayedLen(), 1u);
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  EXPECT_GE(Clock::now() - started, milliseconds(15));
  queue.Done("a");
  EXPECT_EQ(queue.DelayedLen(), 0u);  // the hour-long entry was replaced, not kept
}

TEST_F(WorkQueueTest, LaterAddAfterDoesNotDelayAnEarlierOne) {
  queue.AddAfter("a", milliseconds(20));
  queue.AddAfter("a", seconds(3600));
  EXPECT_EQ(queue.DelayedLen(), 1u);
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
  EXPECT_LT(Clock::now() - started, seconds(5));
  queue.Done("a");
  EXPECT_EQ(queue.DelayedLen(), 0u);
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(50)), std::nullopt);
}

TEST_F(WorkQueueTest, HugeAddAfterDoesNotOverflow) {
  queue.AddAfter("a", Duration::max());
  EXPECT_EQ(queue.DelayedLen(), 1u);
  EXPECT_EQ(queue.GetUntil(Clock::now() + milliseconds(20)), std::nullopt);
  queue.AddAfter("a", milliseconds(1));  // still overridable
  EXPECT_EQ(queue.GetUntil(Soon()), "a");
}

// Len() (and so the controller's depth gauge) counts a delayed key once it is due, before any
// Get() has promoted it; not while it is still delayed; and not twice when already queued.
TEST_F(WorkQueueTest, LenCountsDueDelayedKeys) {
  queue.AddAfter("a", milliseconds(20));
  queue.AddAfter("b", seconds(3600));
  EXPECT_EQ(queue.Len(), 0u);
  ASSERT_TRUE(WaitUntil([&] { return Clock::now() - started >= milliseconds(25); }));
  EXPECT_EQ(queue.Len(), 1u);
  queue.Add("a");  // promotes the due "a", then collapses with it
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.DelayedLen(), 1u);
}

TEST(WorkQueueRateLimitTest, RateLimitedBackoffAndForget) {
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

TEST_F(WorkQueueTest, ShutDownWakesAllWorkers) {
  std::atomic<int> returned{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      EXPECT_EQ(queue.Get(), std::nullopt);
      ++returned;
    });
  }
  // All four are really blocked in Get() before the shutdown.
  ASSERT_TRUE(WaitUntil([&] { return queue.Waiters() == 4; }));
  EXPECT_EQ(returned.load(), 0);
  queue.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(returned.load(), 4);
  EXPECT_EQ(queue.Waiters(), 0u);
  EXPECT_TRUE(queue.ShuttingDown());
  queue.Add("ignored");
  queue.AddAfter("ignored", milliseconds(1));
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.DelayedLen(), 0u);
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST_F(WorkQueueTest, ShutDownWakesWorkerWaitingOnDelayedItem) {
  queue.AddAfter("far", seconds(3600));
  std::atomic<bool> returned{false};
  std::thread worker([&] {
    EXPECT_EQ(queue.Get(), std::nullopt);
    returned = true;
  });
  // The worker is asleep until the hour-long item, not merely not started yet.
  ASSERT_TRUE(WaitUntil([&] { return queue.Waiters() == 1; }));
  EXPECT_FALSE(returned.load());
  auto shut_down_at = Clock::now();
  queue.ShutDown();
  worker.join();
  EXPECT_TRUE(returned.load());
  EXPECT_LT(Clock::now() - shut_down_at, seconds(5));
}

}  // namespace
}  // namespace ringleader::kube
