#include "ringleader/common/task_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ringleader {
namespace {

using namespace std::chrono_literals;

TEST(TaskPoolTest, RunsEveryIndexExactlyOnce) {
  TaskPool pool(8);
  std::vector<std::atomic<int>> runs(100);
  pool.RunAll(runs.size(), 4, [&](size_t i) { runs[i].fetch_add(1); });
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i;
}

TEST(TaskPoolTest, ZeroItemsReturnsAtOnce) {
  TaskPool pool(4);
  bool called = false;
  pool.RunAll(0, 4, [&](size_t) { called = true; });
  EXPECT_FALSE(called);
  EXPECT_EQ(pool.ThreadCount(), 0u);
}

// Blocking calls (what the reconciler fans out) overlap up to `parallelism`: all four calls
// below wait for each other, which finishes only if they run at the same time.
TEST(TaskPoolTest, RunsUpToParallelismAtOnce) {
  TaskPool pool(8);
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<int> timed_out{0};
  pool.RunAll(4, 4, [&](size_t) {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    if (!cv.wait_for(lock, 10s, [&] { return arrived == 4; })) timed_out.fetch_add(1);
  });
  EXPECT_EQ(arrived, 4);
  EXPECT_EQ(timed_out.load(), 0) << "the four calls did not all run at once";
}

TEST(TaskPoolTest, NeverRunsMoreThanParallelismAtOnce) {
  TaskPool pool(16);
  std::atomic<int> running{0}, most{0};
  pool.RunAll(60, 3, [&](size_t) {
    int now = running.fetch_add(1) + 1;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(1ms);
    running.fetch_sub(1);
  });
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2) << "no two calls ever overlapped";
  EXPECT_LE(pool.ThreadCount(), 2u) << "a batch of parallelism 3 needs the caller and 2 pool threads";
}

// The point of the pool: a stream of batches reuses the same threads instead of starting new
// ones (a thread per call would start 3 per batch, 60 in all).
TEST(TaskPoolTest, ReusesThreadsAcrossBatches) {
  TaskPool pool(64);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> runs{0};
    pool.RunAll(4, 4, [&](size_t) {
      std::this_thread::sleep_for(1ms);
      runs.fetch_add(1);
    });
    ASSERT_EQ(runs.load(), 4) << "round " << round;
    std::this_thread::sleep_for(2ms);  // let the helpers go back to waiting
  }
  EXPECT_GE(pool.ThreadCount(), 1u);
  EXPECT_LE(pool.ThreadCount(), 6u);
}

TEST(TaskPoolTest, NoThreadsMeansTheCallerRunsEverything) {
  TaskPool pool(0);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0}, runs{0};
  pool.RunAll(10, 8, [&](size_t) {
    runs.fetch_add(1);
    if (std::this_thread::get_id() != caller) elsewhere.fetch_add(1);
  });
  EXPECT_EQ(runs.load(), 10);
  EXPECT_EQ(elsewhere.load(), 0);
  EXPECT_EQ(pool.ThreadCount(), 0u);
}

TEST(TaskPoolTest, RethrowsTheFirstErrorAfterTheOthersFinish) {
  TaskPool pool(4);
  std::vector<std::atomic<int>> runs(20);
  EXPECT_THROW(pool.RunAll(runs.size(), 4,
                           [&](size_t i) {
                             runs[i].fetch_add(1);
                             if (i == 3) throw std::runtime_error("boom");
                           }),
               std::runtime_error);
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i;
  // The pool still works afterwards.
  std::atomic<int> after{0};
  pool.RunAll(5, 4, [&](size_t) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 5);
}

// More callers than pool threads, each wanting more helpers than exist: every batch still
// finishes, because each caller works through its own batch.
TEST(TaskPoolTest, ManyCallersShareASmallPool) {
  TaskPool pool(2);
  constexpr int kCallers = 8;
  std::vector<std::vector<std::atomic<int>>> runs(kCallers);
  for (auto& r : runs) r = std::vector<std::atomic<int>>(50);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      pool.RunAll(runs[c].size(), 4, [&, c](size_t i) {
        runs[c][i].fetch_add(1);
        if (i % 10 == 0) std::this_thread::sleep_for(100us);
      });
    });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    for (size_t i = 0; i < runs[c].size(); ++i) EXPECT_EQ(runs[c][i].load(), 1) << "caller " << c << " index " << i;
  }
  EXPECT_LE(pool.ThreadCount(), 2u);
}

}  // namespace
}  // namespace ringleader
