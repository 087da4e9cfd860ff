#pragma once
// The rendezvous key/value store. Rank 0 serves it over TCP on the rendezvous port
// (TcpStoreServer); every rank, rank 0 included, talks to it through TcpStoreClient.
// InMemoryStore is the same semantics without sockets, for thread-based tests.
//
// Besides keys, the server tracks liveness: a client says Hello(rank) once and Goodbye() at a
// clean exit; a connection that closes without Goodbye marks its rank dead, so a rank whose
// collective failed can ask DeadRanks() who actually died instead of blaming its neighbour.
//
// Thread-safety: InMemoryStore and TcpStoreServer are thread-safe. TcpStoreClient serialises
// its calls with a mutex (one request in flight per connection).

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/socket.h"

namespace ringleader::runtime {

class Store {
 public:
  virtual ~Store() = default;
  virtual Status Set(const std::string& key, const std::string& value) = 0;
  // Waits until the key exists; kDeadlineExceeded if it does not appear before the deadline.
  virtual StatusOr<std::string> Get(const std::string& key, Deadline deadline) = 0;
  // For each key, whether it exists now (no waiting).
  virtual StatusOr<std::vector<bool>> Check(const std::vector<std::string>& keys) = 0;
  // Atomically adds delta to an integer key (missing = 0) and returns the new value.
  virtual StatusOr<int64_t> Add(const std::string& key, int64_t delta) = 0;
  // Ranks whose connection dropped without a Goodbye, ascending.
  virtual StatusOr<std::vector<int>> DeadRanks(Deadline deadline) = 0;
};

// Waits for every key; on timeout the error lists the missing ones via `describe_missing`.
// Returns values in key order.
StatusOr<std::vector<std::string>> GetAll(Store& store, const std::vector<std::string>& keys,
                                          Deadline deadline);

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

class TcpStoreServer {
 public:
  // Serves on an already-listening socket (rank 0 binds the rendezvous port, or a test or
  // launcher passes an inherited socket so ports never race).
  static StatusOr<std::unique_ptr<TcpStoreServer>> Start(Fd listen_fd);
  // Serves on `listen_fd` when it is >= 0 (socket activation: a test, local mode or a parent
  // bound it), else binds `port`: on 127.0.0.1 for a loopback `master_addr`, on every
  // interface otherwise (the host's own DNS name may not resolve yet). Rank 0's rendezvous and
  // worker 0's launcher both serve this way.
  static StatusOr<std::unique_ptr<TcpStoreServer>> Serve(int listen_fd, const std::string& master_addr, int port);
  ~TcpStoreServer();

  int port() const { return port_; }
  // Waits until `count` ranks said goodbye (clean shutdown of the gang), up to the deadline.
  bool WaitForGoodbyes(int count, Deadline deadline) { return state_.WaitForGoodbyes(count, deadline); }
  void Stop();

 private:
  TcpStoreServer(Fd listen_fd, int port);
  void AcceptLoop();
  void Serve(int fd);

  Fd listen_fd_;
  int port_;
  InMemoryStore state_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> connections_;
  std::thread accept_thread_;
  std::vector<std::thread> handlers_;
  int wake_pipe_[2] = {-1, -1};
};

class TcpStoreClient : public Store {
 public:
  // Connects with retry until the deadline and introduces itself as `rank`.
  static StatusOr<std::unique_ptr<TcpStoreClient>> Connect(const std::string& host, int port,
                                                           int rank, Deadline deadline);
  ~TcpStoreClient() override;

  Status Set(const std::string& key, const std::string& value) override;
  StatusOr<std::string> Get(const std::string& key, Deadline deadline) override;
  StatusOr<std::vector<bool>> Check(const std::vector<std::string>& keys) override;
  StatusOr<int64_t> Add(const std::string& key, int64_t delta) override;
  StatusOr<std::vector<int>> DeadRanks(Deadline deadline) override;
  // Clean exit: the server will not report this rank dead when the connection closes.
  Status Goodbye();

  // Addresses of the store connection: this rank's address as routed towards rank 0, and
  // rank 0's address as this rank reached it.
  std::string local_address() const { return LocalAddress(fd_.get()); }
  std::string server_address() const { return PeerAddress(fd_.get()); }

 private:
  explicit TcpStoreClient(Fd fd) : fd_(std::move(fd)) {}
  StatusOr<std::vector<std::string>> Call(uint8_t op, const std::vector<std::string>& args,
                                          Deadline deadline);

  std::mutex mu_;
  Fd fd_;
};

}  // namespace ringleader::runtime
