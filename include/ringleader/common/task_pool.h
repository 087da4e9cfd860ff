#pragma once
// TaskPool: threads that stay, for callers that fan a few blocking calls out and wait for them
// (the reconciler's parallel pod creates, deletes and gate removals).
//
// Why not a std::thread per call: a reconcile of an 8-worker gang fans out about 14 writes,
// and starting and joining their threads (stack mmap/munmap, a TLB shootdown on every other
// CPU) was 17% of the operator's CPU in operator_bench. Threads here start on first need, up to
// `max_threads`, and are reused until the pool is destroyed.
//
// The caller runs items of its own batch too, so a batch finishes even while every pool thread
// is busy with other callers' batches: no caller can starve another into a deadlock, and a
// pool of N threads with M callers has at most N + M items running.
//
// Thread-safety: RunAll may be called from any number of threads at once. Destroying the pool
// while a RunAll is in flight is a bug.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ringleader {

class TaskPool {
 public:
  explicit TaskPool(int max_threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs call(0) .. call(count - 1), up to `parallelism` of them at once (the caller's thread
  // is one of them), and returns once all have returned. If calls throw, the first exception
  // is rethrown here after the others have finished.
  void RunAll(size_t count, size_t parallelism, const std::function<void(size_t)>& call);

  // Threads started so far (they never exceed max_threads): for tests and metrics.
  size_t ThreadCount() const;

 private:
  struct Batch;
  // Runs items of `batch` until none is left to claim.
  static void Drain(Batch& batch);
  void WorkerLoop();

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable work_ready_;
  std::deque<std::shared_ptr<Batch>> queue_;  // batches with items nobody has claimed yet
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace ringleader
