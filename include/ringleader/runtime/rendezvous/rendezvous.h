#pragma once
// Rendezvous: every rank joins the gang through the key/value store that rank 0 serves on
// RINGLEADER_MASTER_PORT. Each rank publishes how to reach it (data-plane address and port, a
// host identity for same-host shared memory, its GPU count and pid) under a key namespaced by
// RINGLEADER_ATTEMPT and RINGLEADER_IN_PLACE_RESTARTS, then waits for all the others. Every wait ends at the rendezvous
// deadline with an error that names the missing ranks.
//
// Thread-safety: one Rendezvous per rank; not shared between threads except for
// DescribePeerFailure, which only uses the (thread-safe) store.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/socket.h"
#include "ringleader/runtime/rendezvous/store.h"
#include "ringleader/runtime/rendezvous/tcp_store_client.h"
#include "ringleader/runtime/rendezvous/tcp_store_server.h"
#include "ringleader/runtime/rendezvous/worker_env_parser.h"

namespace ringleader::runtime {

struct PeerInfo {
  int rank = 0;
  std::string host;     // data-plane address as seen from this rank
  int data_port = 0;    // TCP ring listener
  std::string host_id;  // equal for ranks that share a kernel and /dev/shm
  int pid = 0;
  int gpu_count = 0;
};

struct RendezvousOptions {
  WorkerEnv env;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  int gpu_count = 0;
  // Rank 0 only: an already-listening socket to serve the store on (inherited from a test or
  // passed as RINGLEADER_STORE_FD); -1 = bind RINGLEADER_MASTER_PORT.
  int store_listen_fd = -1;
  // RINGLEADER_STORE_HOSTED_BY_LAUNCHER=1: worker 0's `ringleader-worker launch` serves the
  // store on the master port (it outlives the training processes it restarts in place), so
  // rank 0 connects to it like every other rank.
  bool store_hosted_by_launcher = false;
  // Overrides the host identity (tests use it to force "different hosts").
  std::string host_id;
};

// RendezvousOptions for this process, from its environment: the gang (ParseWorkerEnv of the
// RINGLEADER_* or PyTorch variables), RINGLEADER_STORE_HOSTED_BY_LAUNCHER, and, on rank 0,
// RINGLEADER_STORE_FD when a parent handed it a listening socket. Errors are kInvalidArgument naming the variable.
StatusOr<RendezvousOptions> RendezvousOptionsFromEnvironment(const EnvLookup& env = ProcessEnv());

class TcpStoreServer;

class Rendezvous {
 public:
  static StatusOr<std::unique_ptr<Rendezvous>> Join(const RendezvousOptions& options);
  ~Rendezvous();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::vector<PeerInfo>& peers() const { return peers_; }
  Store& store() { return *store_; }
  // A key in this gang attempt's namespace.
  std::string Key(const std::string& name) const;
  // The listening socket for the TCP data plane (taken once by the TCP ring).
  Fd TakeDataListener() { return std::move(data_listener_); }

  bool AllOnOneHost() const;
  bool AllHaveGpus() const;

  // Builds "peer rank(s) X failed ..." for an error seen while talking to `suspect` (-1 =
  // unknown): prefers the ranks the store saw disappear (the real culprit, not a neighbour
  // that merely gave up); for a timeout, follows the chain of ranks waiting on each other.
  std::string DescribePeerFailure(int suspect, const std::string& what, bool timed_out = false);

  // Clean end of the job: says goodbye to the store; rank 0 waits (bounded) for the others'
  // goodbyes before it stops serving. Called once; also called by the destructor.
  void Finish();
  // Marks this rank as exiting deliberately (after an error): the store will not blame it.
  void Leave();

 private:
  Rendezvous() = default;
  Status Run(const RendezvousOptions& options);
  void Shutdown(std::chrono::milliseconds linger);

  int rank_ = 0;
  int world_size_ = 1;
  int attempt_ = 0;
  int in_place_restarts_ = 0;
  std::chrono::milliseconds timeout_{0};
  std::unique_ptr<TcpStoreServer> server_;
  std::unique_ptr<TcpStoreClient> client_;
  Store* store_ = nullptr;
  Fd data_listener_;
  std::vector<PeerInfo> peers_;
  bool finished_ = false;
};

// The host identity used for same-host detection: hostname + kernel boot id.
std::string LocalHostId();

}  // namespace ringleader::runtime
