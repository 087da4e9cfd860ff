#pragma once
// Test helper: runs N ranks as threads of the test process, each with its own rendezvous
// client, communicator and sockets; rank 0 serves the store on an inherited 127.0.0.1:0 socket.

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "collective_harness.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime::testing {

// Runs body(communicator) on `world_size` rank threads; returns each rank's status.
// `host_of(rank)`, when given, overrides the host identity (simulates ranks on other hosts).
inline std::vector<Status> RunGang(int world_size, const CommunicatorOptions& options,
                            const std::function<Status(Communicator&)>& body,
                            const std::function<std::string(int)>& host_of = nullptr) {
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  if (!listener.ok()) return {listener.status()};
  int listen_fd = listener->release();
  std::vector<Status> results(world_size);
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) {
    threads.emplace_back([&, r] {
      RendezvousOptions ro =
          harness::LocalRankOptions(r, world_size, port, listen_fd, std::chrono::seconds(20));
      if (host_of) ro.host_id = host_of(r);
      auto rdzv = Rendezvous::Join(ro);
      if (!rdzv.ok()) {
        results[r] = rdzv.status();
        return;
      }
      auto comm = CreateCommunicator(**rdzv, options);
      if (!comm.ok()) {
        results[r] = comm.status();
        return;
      }
      results[r] = body(**comm);
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace ringleader::runtime::testing
