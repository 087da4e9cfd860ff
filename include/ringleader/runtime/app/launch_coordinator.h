#pragma once
// How the `ringleader-worker launch` supervisors of one gang attempt (one per Pod) agree on an
// in-place restart, through a rendezvous store that worker 0's launcher serves. Training
// processes come and go; the store stays, so they meet again in the next generation's key
// namespace (runtime::Rendezvous::Key) without any Pod being recreated.
//
// Protocol, for generation g (the in-place restarts so far) of attempt A, keys under
// "launch/A/g/":
//   - a launcher whose process failed, stalled or whose peers vanished sets "restart" (a
//     one-line reason) and, when the failure may not be retried in place, "fail";
//   - every launcher watches "restart": when it appears it stops its own processes (SIGTERM,
//     so trainers checkpoint; SIGKILL after the grace period);
//   - every launcher that stopped all its processes adds 1 to "stopped" and waits until all
//     `num_workers` did: no process of generation g+1 starts while one of g still runs;
//   - then each reads "fail": set means every launcher exits (the operator restarts the gang
//     the Pod-level way), unset means all start generation g+1.
// A launcher that does not reach the barrier in time (its Pod or node is gone), or one that
// already finished successfully (its ranks are gone for good), makes the others give up
// in-place restarts and exit, so the operator takes over. Losing the store
// (worker 0's Pod is gone) only disables in-place restarts: running processes are left alone.
//
// Thread-safety: Watch runs a background thread; the other calls come from the launcher's
// main thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/store.h"
#include "ringleader/runtime/rendezvous/tcp_store_client.h"
#include "ringleader/runtime/rendezvous/tcp_store_server.h"

namespace ringleader::runtime {

struct CoordinatorOptions {
  int worker_rank = 0;
  int num_workers = 1;
  int attempt = 0;
  std::string master_addr = "127.0.0.1";
  int port = 0;  // the launchers' store port (LauncherStorePort)
  // Worker 0 only: an already-listening socket to serve on (tests); -1 = bind `port`.
  int listen_fd = -1;
  std::chrono::milliseconds connect_timeout{std::chrono::minutes(5)};
  // How long a launcher waits at the barrier for the others before giving up on restarting
  // in place.
  std::chrono::milliseconds barrier_timeout{std::chrono::seconds(60)};
};

// The port the launchers' store uses: next to the master port, which stays free for the
// training program's own rendezvous (PyTorch's TCPStore binds MASTER_PORT on rank 0).
int LauncherStorePort(int master_port);

class LaunchCoordinator {
 public:
  // Worker 0 starts serving the store; every launcher connects to it (worker 0 over loopback).
  static StatusOr<std::unique_ptr<LaunchCoordinator>> Start(const CoordinatorOptions& options);
  ~LaunchCoordinator();

  // The port the training processes reach the store on (worker 0's server).
  int store_port() const { return port_; }

  // Starts watching generation g's "restart" key; `wake_fd` becomes readable when it appears.
  // Replaces the previous watch.
  void Watch(int generation);
  int wake_fd() const { return wake_pipe_[0]; }
  // Whether the watched generation's restart was announced (by anyone, this launcher included).
  bool restart_announced() const { return announced_.load(); }
  // Whether the store was lost while watching (in-place restarts are then off).
  bool store_lost() const { return store_lost_.load(); }

  // Announces a restart of generation g; `permanent` also sets "fail".
  Status Announce(int generation, const std::string& reason, bool permanent);
  // The barrier after every launcher stopped its processes. kDeadlineExceeded names how many
  // launchers arrived when the others did not in time; kAborted when a launcher had already
  // finished successfully.
  Status StoppedAndWait(int generation);
  // After the barrier: whether some launcher declared generation g's failure permanent, and
  // the announced reason.
  StatusOr<bool> Failed(int generation);
  std::string Reason(int generation);
  // Clean end: says this launcher is done; worker 0 waits (bounded) for the others, so the
  // store outlives every process that may still talk to it.
  void Done(std::chrono::milliseconds linger);
  // This launcher exits with a failure: worker 0 need not wait for its Done.
  void Leave();

 private:
  LaunchCoordinator() = default;
  std::string Key(int generation, const std::string& name) const;
  void StopWatch();

  CoordinatorOptions options_;
  int port_ = 0;
  std::unique_ptr<TcpStoreServer> server_;
  std::unique_ptr<TcpStoreClient> client_;   // main thread
  std::unique_ptr<TcpStoreClient> watcher_;  // watch thread
  std::thread watch_thread_;
  std::atomic<bool> stop_watch_{false};
  std::atomic<bool> announced_{false};
  std::atomic<bool> store_lost_{false};
  int wake_pipe_[2] = {-1, -1};
};

}  // namespace ringleader::runtime
