#include "ringleader/kube/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <cctype>

#include "http_client_impl.h"
#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {
namespace {

std::once_flag g_curl_init;

}  // namespace

namespace http_detail {

size_t HeaderCallback(char* data, size_t size, size_t nitems, void* user) {
  auto* capture = static_cast<HeaderCapture*>(user);
  std::string line(data, size * nitems);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.pop_back();
    }
    if (name == "retry-after") {
      // Only the delta-seconds form; an HTTP-date falls back to our own backoff.
      capture->retry_after_seconds = ParseRetryAfter(value);
    } else if (name == "content-type") {
      capture->content_type = value;
    }
  } else if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect or 100-continue): forget the previous headers.
    *capture = HeaderCapture{};
  }
  return size * nitems;
}

size_t BodyCallback(char* data, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(data, size * nmemb);
  return size * nmemb;
}

std::string VerbOf(const std::string& method, bool collection) {
  if (method == "GET") return collection ? "list" : "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "other";
}

std::chrono::milliseconds RetryWait(const std::optional<int>& retry_after_seconds, int attempt,
                                    const HttpClientOptions& options) {
  using std::chrono::milliseconds;
  milliseconds wait = retry_after_seconds
                          ? milliseconds(std::chrono::seconds(*retry_after_seconds))
                          : options.retry_backoff * (int64_t{1} << std::min(attempt, 6));
  return std::clamp(wait, milliseconds(0), std::max(options.max_retry_after, milliseconds(0)));
}

long MillisecondsUntil(Clock::time_point deadline, Clock::time_point now) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<long>(std::max<int64_t>(left, 1));
}

void AppendQuery(std::string* path, const char* name, const std::string& value) {
  if (value.empty()) return;
  *path += path->find('?') == std::string::npos ? '?' : '&';
  *path += name;
  *path += '=';
  *path += UrlEncode(value);
}

}  // namespace http_detail

StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(RestConfig config,
                                                         HttpClientOptions options) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (config.server.empty()) return InvalidArgumentError("RestConfig has no server");
  if (config.server.rfind("http://", 0) != 0 && config.server.rfind("https://", 0) != 0) {
    return InvalidArgumentError("server \"" + config.server + "\" must start with http(s)://");
  }
  for (const std::string* file : {&config.certificate_authority_file,
                                  &config.client_certificate_file, &config.client_key_file}) {
    if (file->empty()) continue;
    std::FILE* f = std::fopen(file->c_str(), "rb");
    if (!f) return NotFoundError("cannot read " + *file);
    std::fclose(f);
  }
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::make_unique<Impl>(std::move(config), options)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

const RestConfig& HttpClient::config() const { return impl_->config; }

StatusOr<Json> HttpClient::Get(const GroupVersionResource& gvr, const std::string& ns,
                                const std::string& name) {
  return impl_->DoJson("GET", gvr.ObjectPath(ns, name), nullptr, "", "get");
}

StatusOr<Json> HttpClient::List(const GroupVersionResource& gvr, const std::string& ns,
                                 const ListOptions& options) {
  std::string path = gvr.CollectionPath(ns);
  AppendQuery(&path, "labelSelector", options.label_selector);
  AppendQuery(&path, "fieldSelector", options.field_selector);
  if (options.limit > 0) AppendQuery(&path, "limit", std::to_string(options.limit));
  AppendQuery(&path, "continue", options.continue_token);
  if (options.continue_token.empty()) {
    // The API server rejects resourceVersion together with continue.
    AppendQuery(&path, "resourceVersion", options.resource_version);
    AppendQuery(&path, "resourceVersionMatch", options.resource_version_match);
  }
  if (options.item_mask) {
    FieldMask mask = ListMask(*options.item_mask);
    return impl_->DoJson("GET", path, nullptr, "", "list", Answer::kObject, &mask);
  }
  return impl_->DoJson("GET", path, nullptr, "", "list");
}

StatusOr<Json> HttpClient::Create(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object, Answer answer) {
  return impl_->DoJson("POST", gvr.CollectionPath(ns), &object, "application/json", "create", answer);
}

StatusOr<Json> HttpClient::Update(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object) {
  std::string name = internal::MetaString(object, "name");
  if (name.empty()) return StatusOr<Json>(InvalidArgumentError("update: object has no metadata.name"));
  return impl_->DoJson("PUT", gvr.ObjectPath(ns, name), &object, "application/json", "update");
}

StatusOr<Json> HttpClient::UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                                         const Json& object, Answer answer) {
  std::string name = internal::MetaString(object, "name");
  if (name.empty()) {
    return StatusOr<Json>(InvalidArgumentError("update status: object has no metadata.name"));
  }
  return impl_->DoJson("PUT", gvr.ObjectPath(ns, name, "status"), &object, "application/json",
                       "update", answer);
}

StatusOr<Json> HttpClient::Patch(const GroupVersionResource& gvr, const std::string& ns,
                                  const std::string& name, PatchType type, const Json& patch,
                                  const std::string& subresource, Answer answer) {
  return impl_->DoJson("PATCH", gvr.ObjectPath(ns, name, subresource), &patch,
                       PatchContentType(type), "patch", answer);
}

StatusOr<Json> HttpClient::Delete(const GroupVersionResource& gvr, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.propagation_policy) body["propagationPolicy"] = *options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  return impl_->DoJson("DELETE", gvr.ObjectPath(ns, name), &body, "application/json", "delete");
}

StatusOr<HttpClient::RawResponse> HttpClient::Raw(const std::string& method,
                                                   const std::string& path,
                                                   const std::string& body,
                                                   const std::string& content_type) {
  return impl_->Do(method, path, body, content_type, VerbOf(method, false));
}

}  // namespace ringleader::kube
