#pragma once
// TCP ring all-reduce (the `tcp` backend): reduce-scatter then all-gather around the ring
// rank -> rank+1, each rank sending 2(N-1)/N of the buffer, which is bandwidth-optimal.
//
// Pipelining: the 2(N-1) ring steps are treated as one byte stream. What rank r sends in step
// k+1 is exactly what it received (and reduced) in step k, so bytes are forwarded as soon as
// they are processed, in chunks, instead of waiting for whole steps: the ring runs at link
// speed with at most one chunk of latency per hop. Both sockets are non-blocking and driven
// by one poll() loop; every wait is bounded by the collective timeout (inactivity). A wait
// first retries the non-blocking calls for a spin budget (CommunicatorOptions::tcp_spin_us,
// adaptive_spin.h) and only then sleeps in poll().
//
// Thread-safety: one collective at a time.

#include <memory>
#include <vector>

#include "ringleader/runtime/collectives/adaptive_spin.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {

class TcpRingCommunicator : public Communicator {
 public:
  static StatusOr<std::unique_ptr<TcpRingCommunicator>> Create(Rendezvous& rendezvous,
                                                               const CommunicatorOptions& options);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kTcp; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;

 private:
  TcpRingCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options);
  Status Fail(int suspect, const std::string& what, bool timed_out = false);

  Rendezvous& rendezvous_;
  CommunicatorOptions options_;
  int rank_ = 0;
  int size_ = 1;
  Fd next_;  // we send to rank+1
  Fd prev_;  // we receive from rank-1
  std::vector<char> staging_;
  // How long a wait retries the non-blocking calls before sleeping in poll() (tcp_spin_us).
  SpinPolicy spin_;
  Status broken_;
};

}  // namespace ringleader::runtime
