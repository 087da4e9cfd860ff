#include "ringleader/runtime/store.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ringleader::runtime {

// ---------------------------------------------------------------------------------------------
// InMemoryStore

Status InMemoryStore::Set(const std::string& key, const std::string& value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    values_[key] = value;
  }
  cv_.notify_all();
  return Status::Ok();
}

StatusOr<std::string> InMemoryStore::Get(const std::string& key, Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = values_.end();
  bool found = cv_.wait_until(lock, deadline, [&] {
    it = values_.find(key);
    return it != values_.end() || closed_;
  });
  if (closed_) return AbortedError("store closed");
  if (!found) return DeadlineExceededError("key '" + key + "' did not appear");
  return it->second;
}

StatusOr<std::vector<bool>> InMemoryStore::Check(const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<bool> present;
  present.reserve(keys.size());
  for (const auto& key : keys) present.push_back(values_.count(key) > 0);
  return present;
}

StatusOr<int64_t> InMemoryStore::Add(const std::string& key, int64_t delta) {
  int64_t result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string& slot = values_[key];
    int64_t current = slot.empty() ? 0 : std::stoll(slot);
    result = current + delta;
    slot = std::to_string(result);
  }
  cv_.notify_all();
  return result;
}

StatusOr<std::vector<int>> InMemoryStore::DeadRanks(Deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<int>(dead_.begin(), dead_.end());
}

void InMemoryStore::MarkDead(int rank) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    dead_.insert(rank);
  }
  cv_.notify_all();
}

void InMemoryStore::RecordGoodbye(int rank) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    goodbyes_.insert(rank);
  }
  cv_.notify_all();
}

bool InMemoryStore::WaitForGoodbyes(int count, Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  // A dead rank will never say goodbye: stop waiting for it.
  return cv_.wait_until(lock, deadline, [&] {
    return static_cast<int>(goodbyes_.size() + dead_.size()) >= count || closed_;
  });
}

void InMemoryStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

StatusOr<std::vector<std::string>> GetAll(Store& store, const std::vector<std::string>& keys,
                                          Deadline deadline) {
  std::vector<std::string> values;
  values.reserve(keys.size());
  for (const auto& key : keys) {
    auto value = store.Get(key, deadline);
    if (!value.ok()) {
      if (value.status().code() != StatusCode::kDeadlineExceeded) return value.status();
      std::string missing;
      auto present = store.Check(keys);
      if (present.ok()) {
        for (size_t i = 0; i < keys.size(); ++i) {
          if (!(*present)[i]) missing += (missing.empty() ? "" : ", ") + keys[i];
        }
      }
      return DeadlineExceededError("timed out waiting for keys: " + missing);
    }
    values.push_back(std::move(*value));
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// Wire format: every message is [u32 length][u8 code][u32 count]([u32 len][bytes])*count.
// Requests carry the op in `code`; replies carry a StatusCode.

namespace {

enum Op : uint8_t { kHello = 1, kSet, kGet, kCheck, kAdd, kDead, kBye };

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

std::string Encode(uint8_t code, const std::vector<std::string>& parts) {
  std::string body;
  body.push_back(static_cast<char>(code));
  PutU32(body, static_cast<uint32_t>(parts.size()));
  for (const auto& p : parts) {
    PutU32(body, static_cast<uint32_t>(p.size()));
    body += p;
  }
  std::string out;
  PutU32(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

Status ReadMessage(int fd, Deadline deadline, uint8_t* code, std::vector<std::string>* parts) {
  uint32_t len = 0;
  RETURN_IF_ERROR(RecvAll(fd, &len, 4, deadline));
  if (len < 5 || len > (64u << 20)) return InternalError("bad store message length");
  std::string body(len, '\0');
  RETURN_IF_ERROR(RecvAll(fd, body.data(), len, deadline));
  *code = static_cast<uint8_t>(body[0]);
  uint32_t count;
  std::memcpy(&count, body.data() + 1, 4);
  size_t pos = 5;
  parts->clear();
  for (uint32_t i = 0; i < count; ++i) {
    if (pos + 4 > body.size()) return InternalError("truncated store message");
    uint32_t n;
    std::memcpy(&n, body.data() + pos, 4);
    pos += 4;
    if (pos + n > body.size()) return InternalError("truncated store message");
    parts->push_back(body.substr(pos, n));
    pos += n;
  }
  return Status::Ok();
}

// The server never gives up on an idle client: clients sit quietly during training.
constexpr auto kForever = std::chrono::hours(24 * 365);

}  // namespace

// ---------------------------------------------------------------------------------------------
// TcpStoreServer

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

// ---------------------------------------------------------------------------------------------
// TcpStoreClient

StatusOr<std::unique_ptr<TcpStoreClient>> TcpStoreClient::Connect(const std::string& host,
                                                                  int port, int rank,
                                                                  Deadline deadline) {
  ASSIGN_OR_RETURN(Fd fd, ConnectTcp(host, port, deadline));
  std::unique_ptr<TcpStoreClient> client(new TcpStoreClient(std::move(fd)));
  auto hello = client->Call(kHello, {std::to_string(rank)}, deadline);
  if (!hello.ok()) return hello.status();
  return client;
}

TcpStoreClient::~TcpStoreClient() = default;

StatusOr<std::vector<std::string>> TcpStoreClient::Call(uint8_t op,
                                                        const std::vector<std::string>& args,
                                                        Deadline deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fd_.valid()) return UnavailableError("store connection is closed");
  std::string msg = Encode(op, args);
  Status sent = SendAll(fd_.get(), msg.data(), msg.size(), deadline);
  uint8_t code = 0;
  std::vector<std::string> reply;
  Status read = sent.ok() ? ReadMessage(fd_.get(), deadline, &code, &reply) : sent;
  if (!read.ok()) {
    fd_.reset();  // a half-finished exchange leaves the stream unusable
    return UnavailableError("rendezvous store (rank 0) unreachable: " + read.message());
  }
  if (code != 0) {
    return Status(static_cast<StatusCode>(code), reply.empty() ? "store error" : reply[0]);
  }
  return reply;
}

Status TcpStoreClient::Set(const std::string& key, const std::string& value) {
  return Call(kSet, {key, value}, DeadlineAfter(std::chrono::seconds(60))).status();
}

StatusOr<std::string> TcpStoreClient::Get(const std::string& key, Deadline deadline) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (wait.count() < 0) wait = std::chrono::milliseconds(0);
  // The server answers at the deadline; allow for the round trip.
  ASSIGN_OR_RETURN(auto reply, Call(kGet, {key, std::to_string(wait.count())},
                                    deadline + std::chrono::seconds(10)));
  if (reply.size() != 1) return InternalError("bad store reply");
  return reply[0];
}

StatusOr<std::vector<bool>> TcpStoreClient::Check(const std::vector<std::string>& keys) {
  ASSIGN_OR_RETURN(auto reply, Call(kCheck, keys, DeadlineAfter(std::chrono::seconds(30))));
  std::vector<bool> present;
  for (const auto& r : reply) present.push_back(r == "1");
  return present;
}

StatusOr<int64_t> TcpStoreClient::Add(const std::string& key, int64_t delta) {
  ASSIGN_OR_RETURN(auto reply,
                   Call(kAdd, {key, std::to_string(delta)}, DeadlineAfter(std::chrono::seconds(30))));
  if (reply.size() != 1) return InternalError("bad store reply");
  return static_cast<int64_t>(std::stoll(reply[0]));
}

StatusOr<std::vector<int>> TcpStoreClient::DeadRanks(Deadline deadline) {
  ASSIGN_OR_RETURN(auto reply, Call(kDead, {}, deadline));
  std::vector<int> ranks;
  for (const auto& r : reply) ranks.push_back(std::atoi(r.c_str()));
  return ranks;
}

Status TcpStoreClient::Goodbye() {
  return Call(kBye, {}, DeadlineAfter(std::chrono::seconds(10))).status();
}

}  // namespace ringleader::runtime
