#pragma once
// Small POSIX TCP helpers shared by the rendezvous store and the TCP ring. Every blocking call
// takes a deadline: nothing here waits forever. Errors: kUnavailable for a closed or reset
// connection, kDeadlineExceeded for a timeout; callers add which peer it was.
//
// Thread-safety: Fd is a move-only owner; the functions are reentrant.

#include <chrono>
#include <cstddef>
#include <string>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/deadline.h"

namespace ringleader::runtime {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// True for "127.0.0.1", "::1" and "localhost".
bool IsLoopbackHost(const std::string& host);

// Listens on bind_host:port (port 0 = ephemeral); the bound port is returned in *bound_port.
StatusOr<Fd> ListenTcp(const std::string& bind_host, int port, int* bound_port);
// The port a listening socket is bound to.
StatusOr<int> BoundPort(int listen_fd);
// Connects, retrying refused connections and failed name lookups (a pod's DNS record can
// appear after the pod starts) until the deadline.
StatusOr<Fd> ConnectTcp(const std::string& host, int port, Deadline deadline);
StatusOr<Fd> AcceptTcp(int listen_fd, Deadline deadline);

Status SendAll(int fd, const void* data, size_t size, Deadline deadline);
Status RecvAll(int fd, void* data, size_t size, Deadline deadline);

// Numeric address of this end / the other end of a connected socket.
std::string LocalAddress(int fd);
std::string PeerAddress(int fd);

Status SetNonBlocking(int fd, bool non_blocking);
void SetTcpNoDelay(int fd);
void SetSocketBuffers(int fd, int bytes);

}  // namespace ringleader::runtime
