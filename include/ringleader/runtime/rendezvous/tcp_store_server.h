#pragma once
// Rank 0's (or worker 0's launcher's) rendezvous store over TCP: one handler thread per client
// connection on top of an InMemoryStore. A connection that closes without Goodbye marks its
// rank dead (see store.h). Thread-safe; Stop() (or the destructor) closes every connection.

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/in_memory_store.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {

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

}  // namespace ringleader::runtime
