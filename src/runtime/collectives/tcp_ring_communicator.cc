#include "ringleader/runtime/collectives/tcp_ring_communicator.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "ringleader/runtime/collectives/ring_schedule.h"
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
  const std::string& my_host = rendezvous.peers()[comm->rank_].host_id;
  const auto ranks_here = std::count_if(rendezvous.peers().begin(), rendezvous.peers().end(),
                                        [&](const PeerInfo& p) { return p.host_id == my_host; });
  comm->spin_ = SpinPolicy(options.tcp_spin_us, ranks_here, sysconf(_SC_NPROCESSORS_ONLN));
  return comm;
}

Status TcpRingCommunicator::Fail(int suspect, const std::string& what, bool timed_out) {
  broken_ = AbortedError(rendezvous_.DescribePeerFailure(suspect, what, timed_out));
  return broken_;
}

namespace {

// The byte-level progress of one all-reduce through its RingSchedule: the ring's 2(N-1) steps
// treated as one stream, with the send side allowed to run ahead into data the receive side
// has already reduced. Pure bookkeeping; AllReduce does the socket calls.
class RingProgress {
 public:
  RingProgress(const RingSchedule& schedule, char* data, size_t element_bytes)
      : schedule_(schedule), data_(data), element_bytes_(element_bytes),
        steps_(static_cast<int>(schedule.steps.size())) {
    SkipEmptySteps();
  }

  bool done() const { return send_step_ >= steps_ && recv_step_ >= steps_; }
  bool receiving() const { return recv_step_ < steps_; }
  const RingStep& recv_step() const { return schedule_.steps[recv_step_]; }

  // Bytes of the current send step that may go out now: all of them once the step that
  // received them is complete (step 0 sends our own segment), the processed part while that
  // step is still arriving.
  size_t Sendable() const {
    if (send_step_ >= steps_) return 0;
    const size_t total = SegmentBytes(schedule_.steps[send_step_].send_segment);
    size_t ready = 0;
    if (send_step_ == 0 || recv_step_ > send_step_ - 1) {
      ready = total;
    } else if (recv_step_ == send_step_ - 1) {
      ready = processed_;
    }
    return ready > send_offset_ ? ready - send_offset_ : 0;
  }
  const char* SendCursor() const {
    return SegmentData(schedule_.steps[send_step_].send_segment) + send_offset_;
  }
  void Sent(size_t bytes) {
    send_offset_ += bytes;
    SkipEmptySteps();
  }

  // The bytes still to arrive in the current receive step.
  size_t RecvRemaining() const { return SegmentBytes(recv_step().recv_segment) - recv_offset_; }
  // Where an all-gather step's bytes land (in place: nothing to reduce).
  char* RecvCursor() const { return SegmentData(recv_step().recv_segment) + recv_offset_; }
  // An all-gather step received `bytes` in place.
  void Gathered(size_t bytes) {
    recv_offset_ += bytes;
    processed_ = recv_offset_;
    SkipEmptySteps();
  }
  // A reduce-scatter step received `bytes` into `staging` after `staged` bytes already there:
  // reduces every whole element into the segment (dividing by `divisor` on the step that
  // completes it), keeps a partial element at the front of `staging`, and returns its size.
  size_t Reduced(char* staging, size_t staged, size_t bytes, DataType type, int divisor) {
    recv_offset_ += bytes;
    staged += bytes;
    const size_t whole = staged / element_bytes_;
    const int div = recv_step().completes_segment ? divisor : 1;
    ReduceInto(SegmentData(recv_step().recv_segment) + processed_, staging, whole, type, div);
    processed_ += whole * element_bytes_;
    const size_t rest = staged - whole * element_bytes_;
    if (rest > 0) std::memmove(staging, staging + whole * element_bytes_, rest);
    if (processed_ == SegmentBytes(recv_step().recv_segment)) {
      SkipEmptySteps();
      return 0;
    }
    return rest;
  }

 private:
  size_t SegmentBytes(int segment) const { return schedule_.segments[segment].count * element_bytes_; }
  char* SegmentData(int segment) const {
    return data_ + schedule_.segments[segment].begin * element_bytes_;
  }
  void SkipEmptySteps() {
    while (send_step_ < steps_ && send_offset_ == SegmentBytes(schedule_.steps[send_step_].send_segment)) {
      ++send_step_;
      send_offset_ = 0;
    }
    while (recv_step_ < steps_ && processed_ == SegmentBytes(recv_step().recv_segment)) {
      ++recv_step_;
      recv_offset_ = processed_ = 0;
    }
  }

  const RingSchedule& schedule_;
  char* data_;
  size_t element_bytes_;
  int steps_;
  int send_step_ = 0;
  int recv_step_ = 0;
  size_t send_offset_ = 0;  // bytes sent within the current send step
  size_t recv_offset_ = 0;  // bytes received within the current receive step
  size_t processed_ = 0;    // bytes of the current receive step reduced / written
};

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

Status TcpRingCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  const int n = size_;
  if (n == 1 || count == 0) return Status::Ok();
  const int next = (rank_ + 1) % n;
  const int prev = (rank_ + n - 1) % n;
  const RingSchedule schedule = MakeRingSchedule(rank_, n, count);
  RingProgress ring(schedule, static_cast<char*>(buffer), DataTypeSize(type));
  const int divisor = op == ReduceOp::kAverage ? n : 1;
  size_t staged = 0;  // bytes of a partial element waiting in staging_ (reduce-scatter only)

  Deadline idle_deadline = DeadlineAfter(options_.timeout);
  using Clock = std::chrono::steady_clock;
  // The wait in progress (no call moved a byte since wait_started), if any: it spins, retrying
  // the non-blocking calls, until its budget is spent, then sleeps in poll().
  bool waiting = false;
  bool slept = false;
  Clock::time_point wait_started;
  std::chrono::nanoseconds budget{0};
  while (!ring.done()) {
    bool progress = false;
    if (const size_t can_send = ring.Sendable(); can_send > 0) {
      ssize_t sent = send(next_.get(), ring.SendCursor(), std::min(can_send, kChunkBytes),
                          MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        ring.Sent(static_cast<size_t>(sent));
        progress = true;
      } else if (sent < 0 && !WouldBlock(errno)) {
        return Fail(next, "sending to rank " + std::to_string(next) + ": " + std::strerror(errno));
      }
    }
    if (ring.receiving()) {
      const bool reduce = ring.recv_step().reduce;
      // staged < element size here (whole elements are reduced right away), so want > 0.
      const size_t want = std::min(ring.RecvRemaining(), kChunkBytes - (reduce ? staged : 0));
      char* into = reduce ? staging_.data() + staged : ring.RecvCursor();
      const ssize_t got = recv(prev_.get(), into, want, MSG_DONTWAIT);
      if (got > 0) {
        progress = true;
        if (reduce) {
          staged = ring.Reduced(staging_.data(), staged, static_cast<size_t>(got), type, divisor);
        } else {
          ring.Gathered(static_cast<size_t>(got));
        }
      } else if (got == 0) {
        return Fail(prev, "connection from rank " + std::to_string(prev) + " closed mid-collective");
      } else if (!WouldBlock(errno)) {
        return Fail(prev, "receiving from rank " + std::to_string(prev) + ": " + std::strerror(errno));
      }
    }
    if (progress) {
      if (waiting) spin_.Observe(Clock::now() - wait_started, /*spun_out=*/slept && budget.count() > 0);
      waiting = false;
      idle_deadline = DeadlineAfter(options_.timeout);
      continue;
    }
    if (!waiting) {
      waiting = true;
      slept = false;
      wait_started = Clock::now();
      budget = spin_.Budget();
    }
    if (!slept && budget.count() > 0 && Clock::now() - wait_started < budget) continue;
    slept = true;
    pollfd fds[2];
    int nfds = 0;
    if (ring.Sendable() > 0) fds[nfds++] = {next_.get(), POLLOUT, 0};
    if (ring.receiving()) fds[nfds++] = {prev_.get(), POLLIN, 0};
    if (nfds == 0) continue;
    int rc = poll(fds, nfds, MillisUntil(idle_deadline));
    if (rc == 0) {
      const int suspect = ring.receiving() ? prev : next;
      return Fail(suspect, "no progress from rank " + std::to_string(suspect) + " for " +
                               std::to_string(options_.timeout.count()) + " ms",
                  /*timed_out=*/true);
    }
    for (int i = 0; i < nfds; ++i) {
      if ((fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) && fds[i].fd == next_.get() &&
          !(fds[i].revents & POLLOUT)) {
        return Fail(next, "connection to rank " + std::to_string(next) + " broke mid-collective");
      }
    }
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime
