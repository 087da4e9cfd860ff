#pragma once
// A rank's connection to the rendezvous store (TcpStoreServer). Calls are serialised with a
// mutex: one request in flight per connection, so several threads may share one client.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/socket.h"
#include "ringleader/runtime/rendezvous/store.h"

namespace ringleader::runtime {

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
