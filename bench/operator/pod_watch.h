#pragma once
// PodCreationWatch: when did the API server commit each new pod? One watch
// (GET /api/v1/pods?watch=1&labelSelector=...) on a plain socket; it counts ADDED events by
// scanning the bytes for the event prefix and stamps each with steady_clock on arrival.
//
// Why not kube::HttpClient::Watch or polling a list: the bench shares 2 cores with the server
// and the operator. A list of 512 pods is ~1 MB of JSON built under the server's lock, and a
// parsed watch decodes every pod event (4–5 per pod: create, ungate, bind, run) — both take CPU
// from what is measured. Scanning for `{"type":"ADDED"` costs about a memchr per event, and the
// server already serializes each event once for the operator's own watch (Commit shares one
// string among watchers), so the extra cost on the server is a copy and one write per event.
// Arrival time ≈ commit time: the server queues the line in Commit and the watch thread sends
// it at once (TCP_NODELAY).
//
// Thread-safety: the methods may be called from any thread; events are read on an internal one.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringleader::bench {

class PodCreationWatch {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  PodCreationWatch() = default;
  ~PodCreationWatch() { Stop(); }

  // Connects to 127.0.0.1:`port`, sends the watch (no resourceVersion: pods that already match
  // arrive as ADDED first, so start it before creating anything) and waits for the 200 answer,
  // which the server sends only after it registered the watcher.
  bool Start(int port, const std::string& label_selector);
  // True once `count` ADDED events have arrived; false at the deadline.
  bool WaitFor(size_t count, std::chrono::milliseconds timeout);
  size_t Count() const;
  // Arrival time of the n-th ADDED event (1-based); n must be <= Count().
  TimePoint TimeOf(size_t n) const;
  void Stop();

 private:
  void ReadLoop(std::stop_token stop);

  int fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TimePoint> added_;
  std::string leftover_;  // undelivered tail of the pattern across reads
  bool ended_ = false;
  std::jthread reader_;
};

}  // namespace ringleader::bench
