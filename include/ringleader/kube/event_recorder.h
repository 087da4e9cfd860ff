#pragma once
// EventRecorder: core/v1 Events about an object ("involvedObject"), like kubectl describe
// shows them. Record() only enqueues (bounded; when full the event is dropped and counted),
// a background thread writes them, so reconciles never block on the API server.
// Deduplication: the same object + type + reason + message within `dedup_window` patches the
// existing Event's count and lastTimestamp instead of creating a new one.
//
// Thread-safety: Record() may be called from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube {

inline constexpr char kEventTypeNormal[] = "Normal";
inline constexpr char kEventTypeWarning[] = "Warning";

struct EventRecorderOptions {
  std::string component = "ringleader-operator";  // source.component / reportingController
  std::string host;                               // source.host / reportingInstance
  size_t queue_capacity = 1000;
  Duration dedup_window = std::chrono::minutes(10);
  size_t max_dedup_entries = 4096;  // oldest entries are forgotten beyond this
};

class EventRecorder {
 public:
  EventRecorder(Client& client, EventRecorderOptions options = {});
  ~EventRecorder();  // drains what is queued (bounded by a short deadline), then stops

  // `involved_object` is the object itself (apiVersion, kind, metadata.namespace/name/uid/
  // resourceVersion are used). `type` is kEventTypeNormal or kEventTypeWarning.
  void Record(const Json& involved_object, const std::string& type, const std::string& reason,
              const std::string& message);

  // Waits until everything recorded so far was written (or failed). For tests and shutdown.
  bool Flush(Clock::time_point deadline);
  void Stop();

  uint64_t dropped() const { return dropped_.load(); }
  uint64_t created() const { return created_.load(); }
  uint64_t patched() const { return patched_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  struct Pending {
    Json involved;
    std::string type, reason, message;
    std::chrono::system_clock::time_point at;
  };
  struct Seen {
    std::string ns, name;  // the Event object
    int64_t count = 0;
    Clock::time_point last;
  };
  void Loop();
  void Write(const Pending& pending);

  Client& client_;
  EventRecorderOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::map<std::string, Seen> seen_;  // dedup key → Event
  std::atomic<uint64_t> dropped_{0}, created_{0}, patched_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace ringleader::kube
