#pragma once
// The store's semantics without sockets: the state behind TcpStoreServer, and the store of
// thread-based tests. Thread-safe; Get and WaitForGoodbyes block until their deadline.

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "ringleader/runtime/rendezvous/store.h"

namespace ringleader::runtime {

class InMemoryStore : public Store {
 public:
  Status Set(const std::string& key, const std::string& value) override;
  StatusOr<std::string> Get(const std::string& key, Deadline deadline) override;
  StatusOr<std::vector<bool>> Check(const std::vector<std::string>& keys) override;
  StatusOr<int64_t> Add(const std::string& key, int64_t delta) override;
  StatusOr<std::vector<int>> DeadRanks(Deadline deadline) override;

  void MarkDead(int rank);
  // Wakes every waiter with kAborted (server shutdown).
  void Close();
  // Waits until `count` distinct ranks said goodbye.
  bool WaitForGoodbyes(int count, Deadline deadline);
  void RecordGoodbye(int rank);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> values_;
  std::set<int> dead_;
  std::set<int> goodbyes_;
  bool closed_ = false;
};

}  // namespace ringleader::runtime
