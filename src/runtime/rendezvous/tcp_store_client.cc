#include "ringleader/runtime/rendezvous/tcp_store_client.h"

#include "store_wire.h"

namespace ringleader::runtime {

using namespace store_wire;  // NOLINT(google-build-using-namespace): the ops and the framing

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
