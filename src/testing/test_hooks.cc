// Test hooks: the /testing/ control endpoints (request log, faults, kill-node, evict) and the
// same hooks on the in-process API (FailNextRequests, Restart, KillNode, EvictPod, ...).

#include <set>

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

void ReplyControl(HttpResponseWriter& out, int code, const json& body) {
  out.Send(code, "application/json", body.dump());
}

}  // namespace

void TestApiServer::Impl::ClearFaultsLocked() {
  expire_next_watches_ = 0;
  too_many_requests_.clear();
  conflicts_.clear();
  response_delay_ms_ = 0;
}

void TestApiServer::Impl::CloseWatchesLocked(bool abort) {
  for (auto& w : watchers_) {
    w->closed = true;
    if (abort) w->abort = true;
    w->cv.notify_all();
  }
}

std::optional<json> TestApiServer::Impl::EvictPodLocked(const std::string& ns, const std::string& name,
                                                        const std::string& message) {
  json* pod = FindObject("/pods", ns, name);
  if (pod == nullptr) return std::nullopt;
  json updated = *pod;
  json old = *pod;
  MarkPodFinished(updated, false, 137, "Evicted", message);
  Commit(*FindType("", "v1", "pods"), "MODIFIED", updated, &old);
  return updated;
}

json TestApiServer::Impl::RequestLogJson(uint64_t since) const {
  json arr = json::array();
  json counts = json::object();
  std::lock_guard<std::mutex> lock(log_mu_);
  for (const auto& r : log_) {
    if (r.seq <= since) continue;
    arr.push_back({{"seq", r.seq}, {"method", r.method}, {"verb", r.verb}, {"path", r.path},
                   {"query", r.query}, {"resource", r.resource}, {"subresource", r.subresource},
                   {"namespace", r.namespace_name}, {"name", r.name}, {"contentType", r.content_type},
                   {"status", r.status}});
    if (!r.verb.empty()) {
      std::string key = r.verb + " " + r.resource + (r.subresource.empty() ? "" : "/" + r.subresource);
      counts[key] = counts.value(key, 0) + 1;
    }
  }
  return {{"total", arr.size()}, {"counts", counts}, {"requests", arr}};
}

void TestApiServer::Impl::HandleControl(const HttpRequest& req, HttpResponseWriter& out) {
  if (req.path == "/testing/requests" && req.method == "GET") {
    ReplyControl(out, 200, RequestLogJson(std::strtoull(req.Query("since").c_str(), nullptr, 10)));
    return;
  }
  if (req.path == "/testing/requests" && req.method == "DELETE") {
    std::lock_guard<std::mutex> lock(log_mu_);
    log_.clear();
    ReplyControl(out, 200, {{"cleared", true}});
    return;
  }
  json body;
  try {
    body = req.body.empty() ? json::object() : json::parse(req.body);
  } catch (const json::exception& e) {
    ReplyControl(out, 400, {{"error", std::string("bad JSON: ") + e.what()}});
    return;
  }
  if (req.path == "/testing/faults" && req.method == "POST") {
    ApplyFaults(body, out);
    return;
  }
  if (req.path == "/testing/kill-node" && req.method == "POST") {
    Status killed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      killed = KillNodeLocked(body.value("name", ""));
    }
    if (!killed.ok()) {
      ReplyControl(out, 404, MakeStatus(404, "NotFound", killed.message()));
      return;
    }
    ReplyControl(out, 200, {{"ok", true}});
    return;
  }
  if (req.path == "/testing/evict" && req.method == "POST") {
    std::string name = body.value("name", "");
    std::optional<json> evicted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      evicted = EvictPodLocked(body.value("namespace", "default"), name,
                               body.value("message", std::string("The node was low on resource: memory.")));
    }
    if (!evicted) {
      ReplyControl(out, 404, MakeStatus(404, "NotFound", "pods \"" + name + "\" not found"));
      return;
    }
    ReplyControl(out, 200, *evicted);
    return;
  }
  ReplyControl(out, 404, {{"error", "unknown control endpoint " + req.method + " " + req.path}});
}

void TestApiServer::Impl::ApplyFaults(const json& body, HttpResponseWriter& out) {
  static const std::set<std::string> kKeys = {"clear", "expireNextWatches", "tooManyRequests", "conflictNextUpdates",
                                              "delayMs", "dropWatches", "restart"};
  if (!body.is_object()) {
    ReplyControl(out, 400, {{"error", "want a JSON object"}});
    return;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!kKeys.count(it.key())) {
      ReplyControl(out, 400, {{"error", "unknown fault \"" + it.key() + "\""}});
      return;
    }
  }
  bool restart = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (body.value("clear", false)) ClearFaultsLocked();
    if (body.contains("expireNextWatches")) expire_next_watches_ += body["expireNextWatches"].get<int>();
    if (body.contains("tooManyRequests")) {
      const json& f = body["tooManyRequests"];
      too_many_requests_.push_back({f.value("count", 1), f.value("retryAfterSeconds", 1), f.value("verb", ""),
                                    f.value("resource", "")});
    }
    if (body.contains("conflictNextUpdates")) {
      const json& f = body["conflictNextUpdates"];
      conflicts_.push_back({f.value("count", 1), f.value("resource", ""), f.value("subresource", "")});
    }
    if (body.contains("delayMs")) response_delay_ms_ = body["delayMs"].get<int64_t>();
    if (body.value("dropWatches", false)) CloseWatchesLocked(/*abort=*/false);
    restart = body.value("restart", false);
    if (restart) CloseWatchesLocked(/*abort=*/true);
  }
  ReplyControl(out, 200, {{"ok", true}});
  // The control connection itself goes down with the others, after its answer.
  if (restart) http_->CloseAllConnections();
}

// ---------------------------------------------------------------------------------------
// The same hooks on the in-process API

void TestApiServer::DropAllWatches() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->CloseWatchesLocked(/*abort=*/false);
}

void TestApiServer::ExpireNextWatches(int count) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->expire_next_watches_ += count;
}

void TestApiServer::FailNextRequests(const TooManyRequestsFault& fault) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->too_many_requests_.push_back(fault);
}

void TestApiServer::ConflictNextUpdates(const ConflictFault& fault) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->conflicts_.push_back(fault);
}

void TestApiServer::SetResponseDelay(std::chrono::milliseconds delay) { impl_->response_delay_ms_ = delay.count(); }

void TestApiServer::Restart() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->CloseWatchesLocked(/*abort=*/true);
  }
  if (impl_->http_) impl_->http_->CloseAllConnections();
}

void TestApiServer::ClearFaults() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->ClearFaultsLocked();
}

Status TestApiServer::KillNode(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->KillNodeLocked(name);
}

Status TestApiServer::EvictPod(const std::string& namespace_name, const std::string& name, const std::string& message) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  if (!impl_->EvictPodLocked(namespace_name, name, message)) {
    return NotFoundError("pod " + namespace_name + "/" + name + " not found");
  }
  return Status::Ok();
}

}  // namespace ringleader::testapi
