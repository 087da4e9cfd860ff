// Watch: which events a watcher sees, the initial events (list or history replay, 410 when
// the resourceVersion is compacted), and the chunked stream with bookmarks.

#include <algorithm>

#include "server_impl.h"

namespace ringleader::testapi {

bool WatcherMatches(const Watcher& w, const json& obj) {
  if (!w.namespace_name.empty() && Namespace(obj) != w.namespace_name) return false;
  if (!w.labels.empty()) {
    const json* labels = nullptr;
    auto m = obj.find("metadata");
    if (m != obj.end() && m->contains("labels")) labels = &(*m)["labels"];
    if (!w.labels.MatchesJson(labels ? *labels : json())) return false;
  }
  return w.fields.empty() || w.fields.Matches(obj);
}

std::string EventTypeFor(const Watcher& w, const HistoryEvent& ev) {
  bool now = WatcherMatches(w, *ev.object);
  if (ev.type == "MODIFIED") {
    bool before = ev.old_object ? WatcherMatches(w, *ev.old_object) : now;
    if (before && now) return "MODIFIED";
    if (now) return "ADDED";
    if (before) return "DELETED";
    return "";
  }
  return now ? ev.type : "";
}

std::string EventLine(const std::string& type, const std::string& object_text) {
  return "{\"type\":\"" + type + "\",\"object\":" + object_text + "}\n";
}

void TestApiServer::Impl::HandleWatch(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record,
                                      const RequestTarget& t) {
  const ResourceType& type = *t.type;
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"));
  if (!labels.ok() || !fields.ok()) {
    ReplyError(out, record, BadRequest(!labels.ok() ? labels.status().message() : fields.status().message()));
    return;
  }
  WatchStream stream;
  stream.type = &type;
  stream.bookmarks = IsTrue(req.Query("allowWatchBookmarks"));
  if (!req.Query("timeoutSeconds").empty()) {
    stream.deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::atoll(req.Query("timeoutSeconds").c_str()));
  }
  std::string rv_param = req.Query("resourceVersion");
  uint64_t from_rv = 0;
  if (!rv_param.empty()) {
    char* end = nullptr;
    from_rv = std::strtoull(rv_param.c_str(), &end, 10);
    if (end == nullptr || *end != '\0') {
      ReplyError(out, record, BadRequest("invalid resource version: " + rv_param));
      return;
    }
  }
  stream.watcher = std::make_shared<Watcher>();
  stream.watcher->type_key = type.Key();
  stream.watcher->namespace_name = t.namespace_name;
  stream.watcher->labels = *labels;
  stream.watcher->fields = *fields;
  std::vector<std::string> initial;
  std::string error_line = OpenWatch(stream.watcher, from_rv, rv_param, &initial);
  record.status = 200;
  LogRequest(record);
  out.BeginChunked(200, "application/json");
  if (!error_line.empty()) {
    out.WriteChunk(error_line);
    out.EndChunked();
    return;
  }
  // kubectl get -w asks for Tables: each event's object becomes a one-row Table.
  stream.as_table = req.Header("accept").find("as=Table") != std::string::npos;
  StreamWatch(out, stream, initial);
}

std::string TestApiServer::Impl::OpenWatch(const std::shared_ptr<Watcher>& watcher, uint64_t from_rv,
                                           const std::string& rv_param, std::vector<std::string>* initial) {
  std::string error_line;
  std::lock_guard<std::mutex> lock(mu_);
  if (expire_next_watches_ > 0) {
    --expire_next_watches_;
    error_line = EventLine("ERROR", MakeStatus(410, "Expired", "too old resource version: " + rv_param + " (" +
                                                                   std::to_string(compacted_rv_) + ")")
                                        .dump());
  } else if (from_rv == 0) {
    auto tobjs = objects_.find(watcher->type_key);
    if (tobjs != objects_.end()) {
      for (auto& [key, obj] : tobjs->second) {
        if (WatcherMatches(*watcher, obj)) initial->push_back(EventLine("ADDED", obj.dump()));
      }
    }
  } else if (from_rv < compacted_rv_) {
    error_line = EventLine("ERROR", MakeStatus(410, "Expired", "too old resource version: " + rv_param + " (" +
                                                                   std::to_string(compacted_rv_) + ")")
                                        .dump());
  } else {
    for (const HistoryEvent& ev : history_) {
      if (ev.rv <= from_rv || ev.type_key != watcher->type_key) continue;
      std::string et = EventTypeFor(*watcher, ev);
      if (!et.empty()) initial->push_back(EventLine(et, ev.object->dump()));
    }
  }
  if (error_line.empty()) watchers_.push_back(watcher);
  return error_line;
}

void TestApiServer::Impl::StreamWatch(HttpResponseWriter& out, const WatchStream& stream,
                                      const std::vector<std::string>& initial) {
  const ResourceType& type = *stream.type;
  const std::shared_ptr<Watcher>& watcher = stream.watcher;
  auto send = [&](const std::string& line) {
    if (!stream.as_table) return out.WriteChunk(line);
    json ev = json::parse(line, nullptr, false);
    std::string ev_type = ev.is_object() ? ev.value("type", "") : "";
    if (ev_type == "ADDED" || ev_type == "MODIFIED" || ev_type == "DELETED") {
      std::lock_guard<std::mutex> lock(mu_);
      ev["object"] = BuildTable(type, {&ev["object"]}, ev["object"]["metadata"].value("resourceVersion", ""));
    }
    return out.WriteChunk(ev.dump() + "\n");
  };
  bool ok = true;
  for (const auto& line : initial) {
    if (!(ok = send(line))) break;
  }
  auto interval = options_.bookmark_interval;
  auto next_bookmark = std::chrono::steady_clock::now() + interval;
  bool aborted = false;
  while (ok) {
    std::vector<std::string> lines;
    bool closed = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = std::min(stream.deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
      if (stream.bookmarks) wake = std::min(wake, next_bookmark);
      watcher->cv.wait_until(lock, wake, [&] { return !watcher->lines.empty() || watcher->closed; });
      lines.assign(watcher->lines.begin(), watcher->lines.end());
      watcher->lines.clear();
      closed = watcher->closed;
      aborted = watcher->abort;
      auto now = std::chrono::steady_clock::now();
      if (stream.bookmarks && now >= next_bookmark && !closed) {
        json bm = {{"type", "BOOKMARK"},
                   {"object", {{"kind", type.kind}, {"apiVersion", type.ApiVersion()},
                               {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}}};
        lines.push_back(bm.dump() + "\n");
        next_bookmark = now + interval;
      }
    }
    if (aborted) break;
    for (const auto& line : lines) {
      if (!(ok = send(line))) break;
    }
    if (closed || std::chrono::steady_clock::now() >= stream.deadline || out.PeerClosed()) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.remove(watcher);
  }
  if (ok && !aborted) out.EndChunked();
}

}  // namespace ringleader::testapi
