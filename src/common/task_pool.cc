#include "ringleader/common/task_pool.h"

#include <algorithm>
#include <atomic>

namespace ringleader {

struct TaskPool::Batch {
  const std::function<void(size_t)>* call = nullptr;
  size_t count = 0;
  std::atomic<size_t> next{0};  // the next index to claim
  size_t helpers_wanted = 0;    // pool threads still to join in (guarded by the pool's mu_)

  std::mutex mu;
  std::condition_variable all_done;
  size_t finished = 0;
  std::exception_ptr first_error;
};

TaskPool::TaskPool(int max_threads) : max_threads_(static_cast<size_t>(std::max(0, max_threads))) {}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

size_t TaskPool::ThreadCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

void TaskPool::Drain(Batch& batch) {
  for (size_t i = batch.next.fetch_add(1); i < batch.count; i = batch.next.fetch_add(1)) {
    std::exception_ptr error;
    try {
      (*batch.call)(i);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(batch.mu);
    if (error && !batch.first_error) batch.first_error = error;
    if (++batch.finished == batch.count) batch.all_done.notify_all();
  }
}

void TaskPool::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) return;
    std::shared_ptr<Batch> batch = queue_.front();
    if (--batch->helpers_wanted == 0) queue_.pop_front();
    lock.unlock();
    Drain(*batch);
    lock.lock();
  }
}

void TaskPool::RunAll(size_t count, size_t parallelism, const std::function<void(size_t)>& call) {
  if (count == 0) return;
  auto batch = std::make_shared<Batch>();
  batch->call = &call;
  batch->count = count;
  const size_t helpers = max_threads_ == 0 ? 0 : std::min(std::max<size_t>(parallelism, 1), count) - 1;
  batch->helpers_wanted = helpers;

  if (helpers > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(batch);
    size_t missing = helpers > idle_ ? helpers - idle_ : 0;
    size_t room = max_threads_ - threads_.size();
    for (size_t i = 0; i < std::min(missing, room); ++i) threads_.emplace_back([this] { WorkerLoop(); });
  }
  for (size_t i = 0; i < helpers; ++i) work_ready_.notify_one();

  Drain(*batch);
  if (helpers > 0) {
    // Every item is claimed: helpers that have not come yet are not needed.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(queue_.begin(), queue_.end(), batch);
    if (it != queue_.end()) queue_.erase(it);
  }
  std::unique_lock<std::mutex> lock(batch->mu);
  batch->all_done.wait(lock, [&] { return batch->finished == batch->count; });
  if (batch->first_error) std::rethrow_exception(batch->first_error);
}

}  // namespace ringleader
