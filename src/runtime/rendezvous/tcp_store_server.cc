#include "ringleader/runtime/rendezvous/tcp_store_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "store_wire.h"

namespace ringleader::runtime {

using namespace store_wire;  // NOLINT(google-build-using-namespace): the ops and the framing

namespace {

// The server never gives up on an idle client: clients sit quietly during training.
constexpr auto kForever = std::chrono::hours(24 * 365);

}  // namespace

TcpStoreServer::TcpStoreServer(Fd listen_fd, int port) : listen_fd_(std::move(listen_fd)), port_(port) {}

StatusOr<std::unique_ptr<TcpStoreServer>> TcpStoreServer::Serve(int listen_fd, const std::string& master_addr,
                                                                int port) {
  Fd listener;
  if (listen_fd >= 0) {
    listener.reset(listen_fd);
  } else {
    ASSIGN_OR_RETURN(listener, ListenTcp(IsLoopbackHost(master_addr) ? "127.0.0.1" : "", port, nullptr));
  }
  return Start(std::move(listener));
}

StatusOr<std::unique_ptr<TcpStoreServer>> TcpStoreServer::Start(Fd listen_fd) {
  ASSIGN_OR_RETURN(int port, BoundPort(listen_fd.get()));
  std::unique_ptr<TcpStoreServer> server(new TcpStoreServer(std::move(listen_fd), port));
  if (pipe2(server->wake_pipe_, O_CLOEXEC) != 0) return InternalError("pipe2 failed");
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

TcpStoreServer::~TcpStoreServer() {
  Stop();
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void TcpStoreServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (int fd : connections_) shutdown(fd, SHUT_RDWR);
  }
  state_.Close();
  char byte = 1;
  (void)!write(wake_pipe_[1], &byte, 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& t : handlers_) {
    if (t.joinable()) t.join();
  }
}

void TcpStoreServer::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    SetTcpNoDelay(fd);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.push_back(fd);
    handlers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TcpStoreServer::Serve(int fd) {
  int rank = -1;
  bool said_goodbye = false;
  std::vector<std::string> args;
  while (true) {
    uint8_t op = 0;
    if (!ReadMessage(fd, Clock::now() + kForever, &op, &args).ok()) break;
    Status status;
    std::vector<std::string> reply;
    switch (op) {
      case kHello:
        if (args.size() == 1) rank = std::atoi(args[0].c_str());
        break;
      case kSet:
        if (args.size() == 2) status = state_.Set(args[0], args[1]);
        break;
      case kGet: {
        if (args.size() != 2) break;
        auto deadline = Clock::now() + std::chrono::milliseconds(std::atoll(args[1].c_str()));
        auto value = state_.Get(args[0], deadline);
        if (value.ok()) {
          reply.push_back(*value);
        } else {
          status = value.status();
        }
        break;
      }
      case kCheck: {
        auto present = state_.Check(args);
        for (bool p : *present) reply.push_back(p ? "1" : "0");
        break;
      }
      case kAdd: {
        if (args.size() != 2) break;
        auto value = state_.Add(args[0], std::atoll(args[1].c_str()));
        reply.push_back(std::to_string(*value));
        break;
      }
      case kDead: {
        auto dead = state_.DeadRanks(Clock::now());
        for (int r : *dead) reply.push_back(std::to_string(r));
        break;
      }
      case kBye:
        said_goodbye = true;
        if (rank >= 0) state_.RecordGoodbye(rank);
        break;
      default:
        status = InvalidArgumentError("unknown store op");
    }
    if (!status.ok()) reply = {status.message()};
    std::string msg = Encode(static_cast<uint8_t>(status.code()), reply);
    if (!SendAll(fd, msg.data(), msg.size(), DeadlineAfter(std::chrono::seconds(30))).ok()) break;
  }
  if (rank >= 0 && !said_goodbye) state_.MarkDead(rank);
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(std::remove(connections_.begin(), connections_.end(), fd), connections_.end());
  ::close(fd);
}

}  // namespace ringleader::runtime
