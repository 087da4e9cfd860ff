#include "ringleader/runtime/collectives/tcp_ring_communicator.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringleader/runtime/rendezvous/rendezvous.h"

namespace ringleader::runtime {

namespace {
// Bytes moved per send()/recv() call: small enough that receiving, reducing and forwarding
// interleave (pipelining), big enough to amortise syscalls.
constexpr size_t kChunkBytes = 512u << 10;
constexpr int kSocketBufferBytes = 4 << 20;
}  // namespace

TcpRingCommunicator::TcpRingCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options)
    : rendezvous_(rendezvous), options_(options), rank_(rendezvous.rank()),
      size_(rendezvous.world_size()) {}

StatusOr<std::unique_ptr<TcpRingCommunicator>> TcpRingCommunicator::Create(
    Rendezvous& rendezvous, const CommunicatorOptions& options) {
  std::unique_ptr<TcpRingCommunicator> comm(new TcpRingCommunicator(rendezvous, options));
  Fd listener = rendezvous.TakeDataListener();
  if (comm->size_ == 1) return comm;
  const int next = (comm->rank_ + 1) % comm->size_;
  const int prev = (comm->rank_ + comm->size_ - 1) % comm->size_;
  const Deadline deadline = DeadlineAfter(options.timeout);
  const PeerInfo& peer = rendezvous.peers()[next];
  auto out = ConnectTcp(peer.host, peer.data_port, deadline);
  if (!out.ok()) {
    return AbortedError(rendezvous.DescribePeerFailure(next, "ring connect to rank " +
                                                                 std::to_string(next) + ": " +
                                                                 out.status().message()));
  }
  const int32_t me = comm->rank_;
  RETURN_IF_ERROR(SendAll(out->get(), &me, sizeof(me), deadline));
  auto in = AcceptTcp(listener.get(), deadline);
  if (!in.ok()) {
    return AbortedError(rendezvous.DescribePeerFailure(
        prev, "waiting for ring connection from rank " + std::to_string(prev) + ": " +
                  in.status().message()));
  }
  int32_t from = -1;
  RETURN_IF_ERROR(RecvAll(in->get(), &from, sizeof(from), deadline));
  if (from != prev) {
    return InternalError("ring connection from rank " + std::to_string(from) + ", expected " +
                         std::to_string(prev));
  }
  comm->next_ = std::move(*out);
  comm->prev_ = std::move(*in);
  for (int fd : {comm->next_.get(), comm->prev_.get()}) {
    SetSocketBuffers(fd, kSocketBufferBytes);
    RETURN_IF_ERROR(SetNonBlocking(fd, true));
  }
  comm->staging_.resize(kChunkBytes + 16);
  return comm;
}

Status TcpRingCommunicator::Fail(int suspect, const std::string& what, bool timed_out) {
  broken_ = AbortedError(rendezvous_.DescribePeerFailure(suspect, what, timed_out));
  return broken_;
}

Status TcpRingCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  const int n = size_;
  if (n == 1 || count == 0) return Status::Ok();
  const size_t esize = DataTypeSize(type);
  char* data = static_cast<char*>(buffer);
  const int next = (rank_ + 1) % n;
  const int prev = (rank_ + n - 1) % n;

  // Segment i covers elements [seg_begin[i], seg_begin[i] + seg_count[i]).
  std::vector<size_t> seg_begin(n), seg_count(n);
  for (int i = 0; i < n; ++i) {
    seg_count[i] = count / n + (static_cast<size_t>(i) < count % n ? 1 : 0);
    seg_begin[i] = i == 0 ? 0 : seg_begin[i - 1] + seg_count[i - 1];
  }

  const int steps = 2 * (n - 1);
  auto mod = [n](int x) { return ((x % n) + n) % n; };
  // Segment received in step k; step k+1 sends it on (step 0 sends our own segment).
  auto recv_seg = [&](int k) { return k < n - 1 ? mod(rank_ - k - 1) : mod(rank_ - (k - n + 1)); };
  auto send_seg = [&](int k) { return k == 0 ? rank_ : recv_seg(k - 1); };
  auto seg_bytes = [&](int seg) { return seg_count[seg] * esize; };
  const int divisor = op == ReduceOp::kAverage ? n : 1;

  int send_step = 0, recv_step = 0;
  size_t send_off = 0, recv_off = 0;  // bytes done within the current step
  size_t processed = 0;               // bytes of recv step `recv_step` reduced / written
  size_t staged = 0;                  // bytes waiting in staging_ (reduce-scatter only)

  auto skip_empty = [&] {
    while (send_step < steps && send_off == seg_bytes(send_seg(send_step))) {
      ++send_step;
      send_off = 0;
    }
    while (recv_step < steps && processed == seg_bytes(recv_seg(recv_step))) {
      ++recv_step;
      recv_off = processed = staged = 0;
    }
  };
  // Bytes of the current send step that may go out now.
  auto sendable = [&]() -> size_t {
    if (send_step >= steps) return 0;
    const size_t total = seg_bytes(send_seg(send_step));
    size_t ready;
    if (send_step == 0 || recv_step > send_step - 1) {
      ready = total;
    } else if (recv_step == send_step - 1) {
      ready = processed;
    } else {
      ready = 0;
    }
    return ready > send_off ? ready - send_off : 0;
  };

  Deadline idle_deadline = DeadlineAfter(options_.timeout);
  skip_empty();
  while (send_step < steps || recv_step < steps) {
    bool progress = false;
    size_t can_send = sendable();
    if (can_send > 0) {
      const int seg = send_seg(send_step);
      const char* src = data + seg_begin[seg] * esize + send_off;
      ssize_t sent = send(next_.get(), src, std::min(can_send, kChunkBytes), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        send_off += static_cast<size_t>(sent);
        progress = true;
      } else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Fail(next, "sending to rank " + std::to_string(next) + ": " + std::strerror(errno));
      }
    }
    if (recv_step < steps) {
      const int seg = recv_seg(recv_step);
      const size_t total = seg_bytes(seg);
      char* seg_data = data + seg_begin[seg] * esize;
      const bool reduce_phase = recv_step < n - 1;
      ssize_t got;
      if (reduce_phase) {
        // staged < esize here (whole elements are reduced right away), so want > 0.
        const size_t want = std::min(total - recv_off, kChunkBytes - staged);
        got = recv(prev_.get(), staging_.data() + staged, want, MSG_DONTWAIT);
      } else {
        got = recv(prev_.get(), seg_data + recv_off, std::min(total - recv_off, kChunkBytes),
                   MSG_DONTWAIT);
      }
      if (got > 0) {
        recv_off += static_cast<size_t>(got);
        progress = true;
        if (reduce_phase) {
          staged += static_cast<size_t>(got);
          const size_t whole = staged / esize;
          // The last reduce-scatter step completes our segment: fold in the average there.
          const int div = recv_step == n - 2 ? divisor : 1;
          ReduceInto(seg_data + processed, staging_.data(), whole, type, div);
          processed += whole * esize;
          const size_t rest = staged - whole * esize;
          if (rest > 0) std::memmove(staging_.data(), staging_.data() + whole * esize, rest);
          staged = rest;
        } else {
          processed = recv_off;
        }
      } else if (got == 0) {
        return Fail(prev, "connection from rank " + std::to_string(prev) + " closed mid-collective");
      } else if (got == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Fail(prev, "receiving from rank " + std::to_string(prev) + ": " + std::strerror(errno));
      }
    }
    skip_empty();
    if (progress) {
      idle_deadline = DeadlineAfter(options_.timeout);
      continue;
    }
    pollfd fds[2];
    int nfds = 0;
    if (sendable() > 0) fds[nfds++] = {next_.get(), POLLOUT, 0};
    if (recv_step < steps) fds[nfds++] = {prev_.get(), POLLIN, 0};
    if (nfds == 0) continue;
    int rc = poll(fds, nfds, MillisUntil(idle_deadline));
    if (rc == 0) {
      const bool waiting_recv = recv_step < steps;
      const int suspect = waiting_recv ? prev : next;
      return Fail(suspect, "no progress from rank " + std::to_string(suspect) + " for " +
                               std::to_string(options_.timeout.count()) + " ms",
                  /*timed_out=*/true);
    }
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        if (fds[i].fd == next_.get() && !(fds[i].revents & POLLOUT)) {
          return Fail(next, "connection to rank " + std::to_string(next) + " broke mid-collective");
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime
