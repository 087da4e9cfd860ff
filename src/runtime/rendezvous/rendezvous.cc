#include "ringleader/runtime/rendezvous/rendezvous.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "ringleader/common/worker_contract.h"

namespace ringleader::runtime {

std::string LocalHostId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string boot_id;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, boot_id);
  return std::string(host) + "/" + boot_id;
}

namespace {

std::string JoinRanks(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

std::string EncodePeer(const PeerInfo& p) {
  return p.host + "|" + std::to_string(p.data_port) + "|" + p.host_id + "|" +
         std::to_string(p.pid) + "|" + std::to_string(p.gpu_count);
}

StatusOr<PeerInfo> DecodePeer(int rank, const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, '|')) parts.push_back(part);
  while (parts.size() < 5) parts.emplace_back();
  PeerInfo p;
  p.rank = rank;
  p.host = parts[0];
  p.data_port = std::atoi(parts[1].c_str());
  p.host_id = parts[2];
  p.pid = std::atoi(parts[3].c_str());
  p.gpu_count = std::atoi(parts[4].c_str());
  if (p.data_port <= 0) return InternalError("bad rendezvous record of rank " + std::to_string(rank));
  return p;
}

}  // namespace

StatusOr<std::unique_ptr<Rendezvous>> Rendezvous::Join(const RendezvousOptions& options) {
  std::unique_ptr<Rendezvous> rdzv(new Rendezvous());
  Status status = rdzv->Run(options);
  if (!status.ok()) {
    rdzv->Leave();
    return status;
  }
  return rdzv;
}

Rendezvous::~Rendezvous() { Finish(); }

std::string Rendezvous::Key(const std::string& name) const {
  // Processes restarted in place meet in a fresh namespace of the same store.
  const std::string generation = in_place_restarts_ > 0 ? ".restart" + std::to_string(in_place_restarts_) : "";
  return "attempt" + std::to_string(attempt_) + generation + "/" + name;
}

Status Rendezvous::Run(const RendezvousOptions& options) {
  const WorkerEnv& env = options.env;
  rank_ = env.rank;
  world_size_ = env.world_size;
  attempt_ = env.attempt;
  in_place_restarts_ = env.in_place_restarts;
  timeout_ = options.timeout;
  const Deadline deadline = DeadlineAfter(options.timeout);
  const std::string timeout_text =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options.timeout).count()) +
      "s";
  const bool loopback = IsLoopbackHost(env.master_addr);

  std::string store_host = env.master_addr;
  int store_port = env.master_port;
  if (rank_ == 0 && !options.store_hosted_by_launcher) {
    ASSIGN_OR_RETURN(server_, TcpStoreServer::Serve(options.store_listen_fd, env.master_addr, env.master_port));
    store_host = "127.0.0.1";
    store_port = server_->port();
  }
  auto client = TcpStoreClient::Connect(store_host, store_port, rank_, deadline);
  if (!client.ok()) {
    return DeadlineExceededError("rendezvous timed out after " + timeout_text +
                                 ": missing ranks 0 (store at " + env.master_addr + ":" +
                                 std::to_string(env.master_port) +
                                 " not reachable: " + client.status().message() + ")");
  }
  client_ = std::move(*client);
  store_ = client_.get();

  int data_port = 0;
  ASSIGN_OR_RETURN(data_listener_, ListenTcp(loopback ? "127.0.0.1" : "", 0, &data_port));
  PeerInfo self;
  self.rank = rank_;
  // Rank 0 is reached at the address the others used for the store; the others publish the
  // address their store connection left from, i.e. the interface routed towards the gang.
  self.host = rank_ == 0 ? "" : client_->local_address();
  self.data_port = data_port;
  self.host_id = options.host_id.empty() ? LocalHostId() : options.host_id;
  self.pid = static_cast<int>(getpid());
  self.gpu_count = options.gpu_count;
  RETURN_IF_ERROR(store_->Set(Key("rank/" + std::to_string(rank_)), EncodePeer(self)));

  std::vector<std::string> keys;
  for (int r = 0; r < world_size_; ++r) keys.push_back(Key("rank/" + std::to_string(r)));
  std::vector<std::string> values;
  for (const auto& key : keys) {
    auto value = store_->Get(key, deadline);
    if (!value.ok()) {
      if (value.status().code() != StatusCode::kDeadlineExceeded) return value.status();
      std::vector<int> missing;
      auto present = store_->Check(keys);
      if (present.ok()) {
        for (int r = 0; r < world_size_; ++r) {
          if (!(*present)[r]) missing.push_back(r);
        }
      }
      return DeadlineExceededError("rendezvous timed out after " + timeout_text +
                                   ": missing ranks " + JoinRanks(missing) + " (world size " +
                                   std::to_string(world_size_) + ", rank " +
                                   std::to_string(rank_) + " waited)");
    }
    values.push_back(std::move(*value));
  }
  for (int r = 0; r < world_size_; ++r) {
    ASSIGN_OR_RETURN(PeerInfo peer, DecodePeer(r, values[r]));
    if (peer.host.empty()) peer.host = rank_ == 0 ? "127.0.0.1" : client_->server_address();
    peers_.push_back(std::move(peer));
  }
  return Status::Ok();
}

bool Rendezvous::AllOnOneHost() const {
  return std::all_of(peers_.begin(), peers_.end(),
                     [&](const PeerInfo& p) { return p.host_id == peers_[0].host_id; });
}

bool Rendezvous::AllHaveGpus() const {
  return std::all_of(peers_.begin(), peers_.end(), [](const PeerInfo& p) { return p.gpu_count > 0; });
}

StatusOr<RendezvousOptions> RendezvousOptionsFromEnvironment(const EnvLookup& env) {
  RendezvousOptions options;
  ASSIGN_OR_RETURN(options.env, ParseWorkerEnv(env));
  options.store_hosted_by_launcher = env(contract::kEnvStoreHostedByLauncher).value_or("") == "1";
  // Socket activation: a parent (test, local mode, benchmark) may hand rank 0 a listening socket.
  if (auto fd = env(contract::kEnvStoreFd); fd.has_value() && options.env.rank == 0) {
    char* end = nullptr;
    const long value = std::strtol(fd->c_str(), &end, 10);
    if (fd->empty() || *end != '\0' || value < 0 || value > INT_MAX) {
      return InvalidArgumentError("RINGLEADER_STORE_FD=" + *fd + " is not a file descriptor");
    }
    options.store_listen_fd = static_cast<int>(value);
  }
  return options;
}

std::string Rendezvous::DescribePeerFailure(int suspect, const std::string& what, bool timed_out) {
  // A rank that times out publishes whom it was waiting for. In a ring every rank downstream
  // of a hung rank times out too, each blaming its own neighbour; following the "waiting for"
  // chain to a rank that is not itself waiting finds the one that actually hung.
  if (timed_out && store_ != nullptr && suspect >= 0) {
    (void)store_->Set(Key("stalled/" + std::to_string(rank_)), std::to_string(suspect));
  }
  // The store notices a vanished rank when its connection closes, and other ranks publish
  // their timeouts, a few milliseconds after our own error: look for a short, bounded while.
  const Deadline deadline = DeadlineAfter(std::chrono::milliseconds(1500));
  std::vector<std::string> stalled_keys;
  for (int r = 0; r < world_size_; ++r) stalled_keys.push_back(Key("stalled/" + std::to_string(r)));
  while (store_ != nullptr) {
    auto dead = store_->DeadRanks(DeadlineAfter(std::chrono::seconds(2)));
    if (!dead.ok()) {
      return "peer rank 0 failed (rendezvous store unreachable); rank " + std::to_string(rank_) +
             " saw: " + what;
    }
    std::vector<int> ranks = *dead;
    ranks.erase(std::remove(ranks.begin(), ranks.end(), rank_), ranks.end());
    if (!ranks.empty()) {
      return std::string(ranks.size() == 1 ? "peer rank " : "peer ranks ") + JoinRanks(ranks) +
             " failed (process gone); rank " + std::to_string(rank_) + " saw: " + what;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (timed_out && store_ != nullptr && suspect >= 0) {
    auto present = store_->Check(stalled_keys);
    for (int hops = 0; present.ok() && hops < world_size_ && (*present)[suspect]; ++hops) {
      auto next = store_->Get(stalled_keys[suspect], DeadlineAfter(std::chrono::seconds(2)));
      if (!next.ok()) break;
      const int waited_for = std::atoi(next->c_str());
      if (waited_for < 0 || waited_for >= world_size_ || waited_for == suspect) break;
      suspect = waited_for;
    }
  }
  const std::string who = suspect >= 0 ? "peer rank " + std::to_string(suspect) : "a peer rank";
  return who + " failed or stopped responding; rank " + std::to_string(rank_) + " saw: " + what;
}

void Rendezvous::Shutdown(std::chrono::milliseconds linger) {
  if (finished_) return;
  finished_ = true;
  if (client_) (void)client_->Goodbye();
  if (server_) {
    server_->WaitForGoodbyes(world_size_, DeadlineAfter(std::min(timeout_, linger)));
    server_->Stop();
  }
}

// After an error rank 0 keeps serving briefly, so the others can still learn who really failed.
void Rendezvous::Leave() { Shutdown(std::chrono::milliseconds(3000)); }

void Rendezvous::Finish() { Shutdown(std::chrono::milliseconds(30000)); }

}  // namespace ringleader::runtime
