// FakeClient's watches (history replay, 410 for a compacted resourceVersion, injected
// drops) and the controls tests use (actions, injected errors, seeding, compaction).

#include "fake_client_impl.h"

namespace ringleader::kube {

Status FakeClient::Watch(const GroupVersionResource& gvr, const std::string& ns,
                         const WatchOptions& options, const WatchHandler& handler,
                         std::stop_token stop) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->RecordLocked("watch", gvr, ns, "", "", {{"resourceVersion", options.resource_version}});
  if (auto error = impl_->InjectedLocked("watch", gvr)) {
    return ToStatus(*error, "fake watch " + gvr.ToString() + " (injected)");
  }
  const std::string resource = gvr.ToString();
  const std::string watch_ns = gvr.namespaced ? ns : "";
  StatusOr<Selectors> selectors = Selectors::Parse(options.label_selector, options.field_selector);
  if (!selectors.ok()) return selectors.status();
  auto deliver_error = [&](const std::string& message) {
    Json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                   {"message", message}, {"reason", "Expired"}, {"code", 410}};
    lock.unlock();
    handler(WatchEvent{WatchEventType::kError, status});
    return Status(StatusCode::kGone, "fake watch " + resource + ": " + message);
  };
  if (impl_->expire_next.erase(resource)) return deliver_error("injected: too old resource version");
  int64_t position = impl_->rv;
  std::vector<WatchEvent> pending;
  if (options.resource_version.empty() || options.resource_version == "0") {
    // "Start at most recent" with a synthetic ADDED per existing object, like the server.
    for (const auto& [key, object] : impl_->objects[resource]) {
      if (selectors->Matches(object, watch_ns)) {
        pending.push_back(WatchEvent{WatchEventType::kAdded, object});
      }
    }
  } else {
    try {
      position = std::stoll(options.resource_version);
    } catch (...) {
      return InvalidArgumentError("fake watch: bad resourceVersion " + options.resource_version);
    }
    if (position < impl_->compacted_rv) {
      return deliver_error("too old resource version: " + options.resource_version + " (" +
                           std::to_string(impl_->compacted_rv) + ")");
    }
  }
  const uint64_t generation = impl_->close_generation;
  ++impl_->open_watches;
  impl_->cv.notify_all();
  Status result = Status::Ok();
  while (true) {
    for (const auto& event : impl_->history) {
      if (event.rv <= position) continue;
      position = event.rv;
      if (event.resource != resource) continue;
      if (!selectors->Matches(event.object, watch_ns)) continue;
      pending.push_back(WatchEvent{event.type, event.object});
    }
    if (!pending.empty()) {
      lock.unlock();
      bool keep_going = true;
      for (auto& event : pending) {
        if (!handler(std::move(event))) {
          keep_going = false;
          break;
        }
      }
      pending.clear();
      lock.lock();
      if (!keep_going) break;
      continue;  // new events may have arrived while unlocked
    }
    if (stop.stop_requested() || impl_->close_generation != generation) break;
    impl_->cv.wait(lock, stop, [&] {
      return impl_->close_generation != generation ||
             (!impl_->history.empty() && impl_->history.back().rv > position);
    });
  }
  --impl_->open_watches;
  impl_->cv.notify_all();
  return result;
}

std::vector<FakeAction> FakeClient::Actions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->actions;
}

std::vector<FakeAction> FakeClient::ActionsFor(const std::string& verb,
                                               const std::string& resource) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<FakeAction> out;
  for (const auto& action : impl_->actions) {
    if (action.verb == verb && (resource.empty() || action.resource == resource)) {
      out.push_back(action);
    }
  }
  return out;
}

void FakeClient::ClearActions() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->actions.clear();
}

void FakeClient::InjectError(const std::string& verb, const std::string& resource,
                             ApiStatus error, int times) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->injections.push_back(Impl::Injection{verb, resource, std::move(error), times});
}

void FakeClient::CloseWatches() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ++impl_->close_generation;
  impl_->cv.notify_all();
}

void FakeClient::ExpireNextWatch(const std::string& resource) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->expire_next.insert(resource);
}

void FakeClient::Compact() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->compacted_rv = impl_->rv;
  impl_->history.clear();
}

void FakeClient::Seed(const GroupVersionResource& gvr, Json object) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Json& meta = object["metadata"];
  if (!meta.contains("uid")) meta["uid"] = impl_->NewUid();
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = NowRfc3339();
  if (!meta.contains("generation")) meta["generation"] = 1;
  meta["resourceVersion"] = std::to_string(++impl_->rv);
  std::string ns = gvr.namespaced ? meta.value("namespace", "") : "";
  std::string key = MakeKey(ns, meta.value("name", ""));
  auto& bucket = impl_->objects[gvr.ToString()];
  bool existed = bucket.count(key) > 0;
  bucket[key] = object;
  impl_->EmitLocked(gvr, existed ? WatchEventType::kModified : WatchEventType::kAdded, object);
}

int FakeClient::OpenWatches() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->open_watches;
}

bool FakeClient::WaitForWatches(int n, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_until(lock, deadline, [&] { return impl_->open_watches >= n; });
}

int64_t FakeClient::CurrentResourceVersion() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->rv;
}

}  // namespace ringleader::kube
