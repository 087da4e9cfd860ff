#include "ringleader/kube/event_recorder.h"

#include <spdlog/spdlog.h>

#include "internal.h"
#include "ringleader/common/rfc3339.h"

namespace ringleader::kube {
namespace {

using internal::MetaString;

constexpr auto kStopDrainTimeout = std::chrono::seconds(2);

}  // namespace

EventRecorder::EventRecorder(Client& client, EventRecorderOptions options)
    : client_(client), options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Record(const Json& involved_object, const std::string& type,
                           const std::string& reason, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || queue_.size() >= options_.queue_capacity) {
    ++dropped_;
    return;
  }
  queue_.push_back(Pending{involved_object, type, reason, message, std::chrono::system_clock::now()});
  cv_.notify_all();
}

bool EventRecorder::Flush(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return queue_.empty() && in_flight_ == 0; });
}

void EventRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  Clock::time_point drain_deadline = Clock::time_point::max();
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      if (drain_deadline == Clock::time_point::max()) drain_deadline = Clock::now() + kStopDrainTimeout;
      if (queue_.empty() || Clock::now() > drain_deadline) {
        dropped_ += queue_.size();
        queue_.clear();
        cv_.notify_all();
        return;
      }
    }
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lock.unlock();
    Write(pending);
    lock.lock();
    --in_flight_;
    cv_.notify_all();
  }
}

void EventRecorder::Write(const Pending& pending) {
  const GroupVersionResource events = EventsResource();
  const Json& involved = pending.involved;
  std::string involved_ns = MetaString(involved, "namespace");
  std::string event_ns = involved_ns.empty() ? "default" : involved_ns;
  std::string dedup_key = internal::StringField(involved, "kind") + "\x1f" + involved_ns + "\x1f" +
                          MetaString(involved, "name") + "\x1f" + MetaString(involved, "uid") +
                          "\x1f" + pending.type + "\x1f" + pending.reason + "\x1f" +
                          pending.message;
  Clock::time_point now = Clock::now();
  std::string timestamp = FormatRfc3339(pending.at);

  auto seen = seen_.find(dedup_key);
  if (seen != seen_.end() && now - seen->second.last < options_.dedup_window) {
    Json patch = {{"count", seen->second.count + 1}, {"lastTimestamp", timestamp}};
    StatusOr<Json> patched = client_.Patch(events, seen->second.ns, seen->second.name,
                                            PatchType::kMerge, patch, "", Answer::kOutcomeOnly);
    if (patched.ok()) {
      ++seen->second.count;
      seen->second.last = now;
      ++patched_;
      return;
    }
    if (!patched.IsNotFound()) {
      ++failed_;
      spdlog::warn("msg=\"cannot update event\" event={}/{} error=\"{}\"", seen->second.ns,
                   seen->second.name, patched.status().ToString());
      return;
    }
    seen_.erase(seen);  // the Event expired on the server: create a new one
  }

  static std::atomic<uint64_t> sequence{0};
  char suffix[40];
  std::snprintf(suffix, sizeof(suffix), ".%llx%llx",
                static_cast<unsigned long long>(
                    std::chrono::system_clock::now().time_since_epoch().count()),
                static_cast<unsigned long long>(sequence++ & 0xfff));
  std::string name = MetaString(involved, "name") + suffix;
  Json involved_ref = {{"apiVersion", internal::StringField(involved, "apiVersion")},
                       {"kind", internal::StringField(involved, "kind")},
                       {"name", MetaString(involved, "name")},
                       {"uid", MetaString(involved, "uid")}};
  if (!involved_ns.empty()) involved_ref["namespace"] = involved_ns;
  if (std::string rv = MetaString(involved, "resourceVersion"); !rv.empty()) {
    involved_ref["resourceVersion"] = rv;
  }
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", event_ns}}},
                {"involvedObject", involved_ref},
                {"reason", pending.reason},
                {"message", pending.message},
                {"type", pending.type},
                {"count", 1},
                {"firstTimestamp", timestamp},
                {"lastTimestamp", timestamp},
                {"source", {{"component", options_.component}}},
                {"reportingComponent", options_.component},
                {"reportingInstance", options_.host}};
  if (!options_.host.empty()) event["source"]["host"] = options_.host;
  StatusOr<Json> created = client_.Create(events, event_ns, event, Answer::kOutcomeOnly);
  if (!created.ok()) {
    ++failed_;
    spdlog::warn("msg=\"cannot create event\" object={}/{} reason={} error=\"{}\"", involved_ns,
                 MetaString(involved, "name"), pending.reason, created.status().ToString());
    return;
  }
  ++created_;
  if (seen_.size() >= options_.max_dedup_entries) {
    // Forget the entry seen longest ago.
    auto oldest = seen_.begin();
    for (auto it = seen_.begin(); it != seen_.end(); ++it) {
      if (it->second.last < oldest->second.last) oldest = it;
    }
    seen_.erase(oldest);
  }
  seen_[dedup_key] = Seen{event_ns, name, 1, now};
}

}  // namespace ringleader::kube
