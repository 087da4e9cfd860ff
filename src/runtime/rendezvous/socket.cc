#include "ringleader/runtime/rendezvous/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

namespace ringleader::runtime {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string SockaddrToString(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof(buf));
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

StatusOr<int> BoundPort(int listen_fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return InternalError("getsockname: " + ErrnoText(errno));
  }
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(addr).sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
}

StatusOr<Fd> ListenTcp(const std::string& bind_host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(bind_host.empty() ? nullptr : bind_host.c_str(), service.c_str(), &hints,
                       &result);
  if (rc != 0) {
    return UnavailableError("cannot resolve bind address '" + bind_host + "': " + gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) continue;
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), 1024) != 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    freeaddrinfo(result);
    auto p = BoundPort(fd.get());
    if (!p.ok()) return p.status();
    if (bound_port != nullptr) *bound_port = *p;
    return fd;
  }
  freeaddrinfo(result);
  return UnavailableError("cannot listen on " + bind_host + ":" + service + ": " + last_error);
}

StatusOr<Fd> ConnectTcp(const std::string& host, int port, Deadline deadline) {
  const std::string service = std::to_string(port);
  std::string last_error = "timed out";
  auto backoff = std::chrono::milliseconds(20);
  while (true) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
    if (rc != 0) {
      last_error = std::string("name lookup failed: ") + gai_strerror(rc);
    } else {
      for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
        Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                     ai->ai_protocol));
        if (!fd.valid()) continue;
        int crc = connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
        if (crc != 0 && errno == EINPROGRESS) {
          pollfd pfd{fd.get(), POLLOUT, 0};
          int wait_ms = std::min(MillisUntil(deadline), 2000);
          if (poll(&pfd, 1, wait_ms) == 1) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            crc = err == 0 ? 0 : -1;
            errno = err;
          } else {
            crc = -1;
            errno = ETIMEDOUT;
          }
        }
        if (crc == 0) {
          freeaddrinfo(result);
          (void)SetNonBlocking(fd.get(), false);
          SetTcpNoDelay(fd.get());
          return fd;
        }
        last_error = ErrnoText(errno);
      }
      freeaddrinfo(result);
    }
    if (Clock::now() + backoff >= deadline) break;
    std::this_thread::sleep_for(backoff);  // retry pacing, not a correctness wait
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  return DeadlineExceededError("cannot connect to " + host + ":" + service + ": " + last_error);
}

StatusOr<Fd> AcceptTcp(int listen_fd, Deadline deadline) {
  while (true) {
    pollfd pfd{listen_fd, POLLIN, 0};
    int rc = poll(&pfd, 1, MillisUntil(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return DeadlineExceededError("timed out waiting for a connection");
    if (rc < 0) return InternalError("poll: " + ErrnoText(errno));
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      return UnavailableError("accept: " + ErrnoText(errno));
    }
    SetTcpNoDelay(fd);
    return Fd(fd);
  }
}

Status SendAll(int fd, const void* data, size_t size, Deadline deadline) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = send(fd, p, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd, POLLOUT, 0};
      int rc = poll(&pfd, 1, MillisUntil(deadline));
      if (rc == 0) return DeadlineExceededError("send timed out");
      continue;
    }
    return UnavailableError("connection lost while sending: " + ErrnoText(errno));
  }
  return Status::Ok();
}

Status RecvAll(int fd, void* data, size_t size, Deadline deadline) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = recv(fd, p, size, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return UnavailableError("connection closed by peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{fd, POLLIN, 0};
      int rc = poll(&pfd, 1, MillisUntil(deadline));
      if (rc == 0) return DeadlineExceededError("receive timed out");
      continue;
    }
    return UnavailableError("connection lost while receiving: " + ErrnoText(errno));
  }
  return Status::Ok();
}

std::string LocalAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  return SockaddrToString(addr);
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  return SockaddrToString(addr);
}

Status SetNonBlocking(int fd, bool non_blocking) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) return InternalError("fcntl: " + ErrnoText(errno));
  flags = non_blocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) return InternalError("fcntl: " + ErrnoText(errno));
  return Status::Ok();
}

void SetTcpNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void SetSocketBuffers(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

}  // namespace ringleader::runtime
