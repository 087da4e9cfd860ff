// The request path: authentication, the request log, discovery, and resource requests
// resolved to a type and verb, refused (404/405, injected 429s) or parsed, then answered by
// the verb handlers (api_read.cc, api_write.cc, api_delete.cc, api_watch.cc) under the store
// lock, and written after it is released.

#include <strings.h>

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr size_t kMaxLoggedRequests = 200000;

// Writes and deletes with a body: the body as JSON, an object unless it is a patch.
std::optional<ApiError> ParseRequestBody(const HttpRequest& req, const RequestTarget& t, json* body) {
  if (!(t.verb == "create" || t.verb == "update" || t.verb == "patch" ||
        ((t.verb == "delete" || t.verb == "deletecollection") && !req.body.empty()))) {
    return std::nullopt;
  }
  try {
    *body = req.body.empty() ? json() : json::parse(req.body);
  } catch (const json::exception& e) {
    return BadRequest(std::string("the body of the request was in an unknown format: ") + e.what());
  }
  if (t.verb != "patch" && !body->is_null() && !body->is_object()) {
    return BadRequest("the body of the request must be a JSON object");
  }
  return std::nullopt;
}

}  // namespace

void TestApiServer::Impl::LogRequest(const RequestRecord& record) {
  std::lock_guard<std::mutex> lock(log_mu_);
  RequestRecord r = record;
  r.seq = ++log_seq_;
  log_.push_back(std::move(r));
  while (log_.size() > kMaxLoggedRequests) log_.pop_front();
}

void TestApiServer::Impl::Reply(HttpResponseWriter& out, RequestRecord& record, int status, const json& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  // Logged before the answer goes out, so a client that got it sees it in the log.
  record.status = status;
  LogRequest(record);
  out.Send(status, "application/json", body.dump(), headers);
}

void TestApiServer::Impl::ReplyError(HttpResponseWriter& out, RequestRecord& record, const ApiError& error) {
  Reply(out, record, error.code, MakeStatus(error.code, error.reason, error.message, error.details), error.headers);
}

namespace {

// "Authorization: Bearer <token>", the scheme case-insensitive, as kube-apiserver's bearer
// token authenticator reads it.
bool HasBearerToken(const HttpRequest& req, const std::string& token) {
  static constexpr char kScheme[] = "bearer ";
  const std::string header = req.Header("authorization");
  if (header.size() < sizeof(kScheme) - 1 || strncasecmp(header.c_str(), kScheme, sizeof(kScheme) - 1) != 0) {
    return false;
  }
  return header.compare(sizeof(kScheme) - 1, std::string::npos, token) == 0;
}

}  // namespace

void TestApiServer::Impl::Handle(const HttpRequest& req, HttpResponseWriter& out) {
  if (!options_.token.empty() && !HasBearerToken(req, options_.token)) {
    // Authentication comes before everything else, faults and control endpoints included.
    RequestRecord record;
    record.method = req.method;
    record.path = req.path;
    record.query = req.raw_query;
    record.content_type = req.Header("content-type");
    ReplyError(out, record, {401, "Unauthorized", "Unauthorized", nullptr, {}});
    return;
  }
  // A malformed object (a label that is a number, a name that is an object, ...) makes a
  // json accessor throw; that is the client's error and must not take the server down.
  try {
    HandleUnsafe(req, out);
  } catch (const json::exception& e) {
    if (!out.sent()) {
      RequestRecord record;
      record.method = req.method;
      record.path = req.path;
      ReplyError(out, record, BadRequest(std::string("malformed object: ") + e.what()));
    }
  } catch (const std::exception& e) {
    if (!out.sent()) {
      RequestRecord record;
      record.method = req.method;
      record.path = req.path;
      ReplyError(out, record, {500, "InternalError", std::string("internal error: ") + e.what(), nullptr, {}});
    }
  }
}

void TestApiServer::Impl::HandleUnsafe(const HttpRequest& req, HttpResponseWriter& out) {
  if (req.path.rfind("/testing/", 0) == 0) {
    HandleControl(req, out);
    return;
  }
  int64_t delay = response_delay_ms_.load();
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  RequestRecord record;
  record.method = req.method;
  record.path = req.path;
  record.query = req.raw_query;
  record.content_type = req.Header("content-type");
  if (HandleDiscovery(req, out)) {
    record.status = out.status();
    LogRequest(record);
    return;
  }
  HandleResource(req, out, record);
}

// ---------------------------------------------------------------------------------------
// Resources

RequestTarget TestApiServer::Impl::ResolveTarget(const HttpRequest& req) const {
  RequestTarget t;
  std::vector<std::string> seg = SplitNonEmpty(req.path, '/');
  std::string group, version;
  size_t rest = 0;
  if (seg.size() >= 3 && seg[0] == "api") {
    version = seg[1];
    rest = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    rest = 3;
  } else {
    return t;
  }
  std::vector<std::string> r(seg.begin() + static_cast<long>(rest), seg.end());
  std::lock_guard<std::mutex> lock(mu_);
  const ResourceType* ns_type = r.size() >= 3 && r[0] == "namespaces" ? FindType(group, version, r[2]) : nullptr;
  size_t i = 0;
  if (ns_type != nullptr && ns_type->namespaced) {
    t.namespace_name = r[1];
    t.type = ns_type;
    i = 3;
  } else {
    t.type = FindType(group, version, r[0]);
    i = 1;
  }
  if (i < r.size()) t.name = r[i];
  if (i + 1 < r.size()) t.subresource = r[i + 1];
  if (i + 2 < r.size()) t.type = nullptr;
  if (t.type == nullptr) return t;
  if (req.method == "GET") {
    t.verb = !t.name.empty() ? "get" : (IsTrue(req.Query("watch")) ? "watch" : "list");
  } else if (req.method == "POST") {
    t.verb = "create";
  } else if (req.method == "PUT") {
    t.verb = "update";
  } else if (req.method == "PATCH") {
    t.verb = "patch";
  } else if (req.method == "DELETE") {
    t.verb = t.name.empty() ? "deletecollection" : "delete";
  }
  return t;
}

std::optional<ApiError> TestApiServer::Impl::RefuseRequest(const RequestTarget& t) {
  const ResourceType& type = *t.type;
  if (t.verb.empty()) return MethodNotAllowed();
  if (!t.subresource.empty() && !(t.subresource == "status" && type.has_status)) return NoSuchResource();
  if (!t.subresource.empty() && t.verb != "get" && t.verb != "update" && t.verb != "patch") {
    return MethodNotAllowed();
  }
  if (type.namespaced && t.namespace_name.empty() && t.verb != "list" && t.verb != "watch") return NoSuchResource();
  // Fault: 429 for matching requests.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = too_many_requests_.begin(); it != too_many_requests_.end(); ++it) {
    if ((it->verb.empty() || it->verb == t.verb) && (it->resource.empty() || it->resource == type.plural)) {
      int retry = it->retry_after_seconds;
      if (--it->count <= 0) too_many_requests_.erase(it);
      return ApiError{429, "TooManyRequests", "Too many requests, please try again later.",
                      json{{"retryAfterSeconds", retry}}, {{"Retry-After", std::to_string(retry)}}};
    }
  }
  return std::nullopt;
}

void TestApiServer::Impl::HandleResource(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record) {
  const RequestTarget t = ResolveTarget(req);
  if (t.type == nullptr) {
    ReplyError(out, record, NoSuchResource());
    return;
  }
  record.verb = t.verb;
  record.resource = t.type->plural;
  record.subresource = t.subresource;
  record.namespace_name = t.namespace_name;
  record.name = t.name;
  if (auto refused = RefuseRequest(t)) {
    ReplyError(out, record, *refused);
    return;
  }
  if (t.verb == "watch") {
    HandleWatch(req, out, record, t);
    return;
  }
  json body;
  if (auto bad = ParseRequestBody(req, t, &body)) {
    ReplyError(out, record, *bad);
    return;
  }
  const ResourceRequest request{req, t, body, req.Header("accept").find("as=Table") != std::string::npos,
                                req.Query("fieldValidation") == "Strict"};
  const ResourceAnswer answer = AnswerResource(request);
  if (answer.error) {
    ReplyError(out, record, *answer.error);
  } else {
    Reply(out, record, answer.code, answer.body);
  }
}

ResourceAnswer TestApiServer::Impl::AnswerResource(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  const RequestTarget& t = r.target;
  std::lock_guard<std::mutex> lock(mu_);
  if (!type.active) return ResourceAnswer::Fail(NoSuchResource());
  if (type.namespaced && !t.namespace_name.empty() && t.verb == "create") {
    const ResourceType* ns_type = FindType("", "v1", "namespaces");
    const json* ns = FindObject("/namespaces", "", t.namespace_name);
    if (ns == nullptr) return ResourceAnswer::Fail(NotFound(*ns_type, t.namespace_name));
    if (HasDeletionTimestamp(*ns)) {
      return ResourceAnswer::Fail({403, "Forbidden",
                                   type.GroupResource() + " is forbidden: unable to create new content in namespace " +
                                       t.namespace_name + " because it is being terminated",
                                   DetailsFor(type, t.name, true), {}});
    }
  }
  if (t.verb == "get") return GetLocked(r);
  if (t.verb == "list") return ListLocked(r);
  if (t.verb == "deletecollection") return DeleteCollectionLocked(r);
  if (t.verb == "create") return CreateLocked(r);
  if (t.verb == "update" || t.verb == "patch") return UpdateLocked(r);
  return DeleteLocked(r);
}

}  // namespace ringleader::testapi
