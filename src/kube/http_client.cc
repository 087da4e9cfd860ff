#include "ringleader/kube/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "internal.h"
#include "ringleader/common/metrics.h"
#include "ringleader/kube/rate_limiter.h"
#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {
namespace {

std::once_flag g_curl_init;

struct HeaderCapture {
  std::optional<int> retry_after_seconds;
  std::string content_type;
};

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

struct CurlSlist {
  curl_slist* list = nullptr;
  ~CurlSlist() { curl_slist_free_all(list); }
  void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

std::string VerbOf(const std::string& method, bool collection) {
  if (method == "GET") return collection ? "list" : "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "other";
}

// How long to wait before retry number `attempt + 1`: the server's Retry-After when it gave
// one, else an exponential backoff; always within [0, max_retry_after]. Computed in
// milliseconds of int64 so that a Retry-After of a day cannot overflow.
std::chrono::milliseconds RetryWait(const std::optional<int>& retry_after_seconds, int attempt,
                                    const HttpClientOptions& options) {
  using std::chrono::milliseconds;
  milliseconds wait = retry_after_seconds
                          ? milliseconds(std::chrono::seconds(*retry_after_seconds))
                          : options.retry_backoff * (int64_t{1} << std::min(attempt, 6));
  return std::clamp(wait, milliseconds(0), std::max(options.max_retry_after, milliseconds(0)));
}

// Milliseconds left until `deadline`, rounded up (curl treats a timeout of 0 as "none").
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

}  // namespace

struct HttpClient::Impl {
  RestConfig config;
  HttpClientOptions options;
  TokenBucket limiter;
  metrics::Family<metrics::Counter>* requests_total;
  metrics::Family<metrics::Histogram>* request_duration;

  std::mutex pool_mu;
  std::vector<CURL*> pool;

  Impl(RestConfig c, HttpClientOptions o)
      : config(std::move(c)), options(o), limiter(config.qps, config.burst) {
    metrics::Registry& registry = options.registry ? *options.registry : metrics::Registry::Default();
    requests_total = &registry.AddCounter("ringleader_api_requests_total",
                                          "Kubernetes API requests by verb and HTTP code "
                                          "(code=error for transport failures).",
                                          {"verb", "code"});
    request_duration = &registry.AddHistogram("ringleader_api_request_duration_seconds",
                                              "Kubernetes API request latency by verb.", {"verb"});
  }

  ~Impl() {
    for (CURL* handle : pool) curl_easy_cleanup(handle);
  }

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!pool.empty()) {
        CURL* handle = pool.back();
        pool.pop_back();
        // Reset options but keep the connection cache: the next request reuses the socket.
        curl_easy_reset(handle);
        return handle;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* handle) {
    std::lock_guard<std::mutex> lock(pool_mu);
    // Bound the pool; surplus handles (and their connections) go away.
    if (pool.size() >= 64) {
      curl_easy_cleanup(handle);
      return;
    }
    pool.push_back(handle);
  }

  // Options common to every request.
  void Setup(CURL* curl, const std::string& url, CurlSlist* headers, bool is_watch,
             const std::string& token) {
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, config.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    if (!is_watch) {
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    }
    if (config.insecure_skip_tls_verify) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (!config.certificate_authority_data.empty()) {
      curl_blob blob{const_cast<char*>(config.certificate_authority_data.data()),
                     config.certificate_authority_data.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    } else if (!config.certificate_authority_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, config.certificate_authority_file.c_str());
    }
    if (!config.client_certificate_data.empty()) {
      curl_blob blob{const_cast<char*>(config.client_certificate_data.data()),
                     config.client_certificate_data.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (!config.client_certificate_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, config.client_certificate_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!config.client_key_data.empty()) {
      curl_blob blob{const_cast<char*>(config.client_key_data.data()),
                     config.client_key_data.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (!config.client_key_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLKEY, config.client_key_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!token.empty()) {
      headers->Add("Authorization: Bearer " + token);
    } else if (!config.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, config.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, config.password.c_str());
    }
    headers->Add("Accept: application/json");
    // No "Expect: 100-continue" round trip before bodies: the API server answers anyway.
    headers->Add("Expect:");
  }

  std::string CurrentToken() { return config.token ? config.token->Token() : ""; }

  void Record(const std::string& verb, int http_code, double seconds) {
    requests_total->WithLabels({verb, http_code == 0 ? "error" : std::to_string(http_code)}).Inc();
    request_duration->WithLabels({verb}).Observe(seconds);
  }

  // Waits for a client-side rate-limiter token. Returns false, without waiting, when the
  // token would only come after `deadline`.
  bool Throttle(std::optional<Clock::time_point> deadline = std::nullopt) {
    Clock::time_point now = Clock::now();
    Duration wait = limiter.Reserve(now);
    if (deadline && now + wait >= *deadline) return false;
    if (wait > Duration{0}) std::this_thread::sleep_for(wait);
    return true;
  }

  static ApiResult<RawResponse> DeadlineExceeded(const std::string& context, ApiStatus api) {
    std::string message = context + ": request deadline exceeded";
    if (!api.message.empty()) message += " (last error: " + api.message + ")";
    return WithApiStatus(DeadlineExceededError(message), std::move(api));
  }

  ApiResult<RawResponse> Do(const std::string& method, const std::string& path,
                            const std::string& body, const std::string& content_type,
                            const std::string& verb) {
    const std::string url = config.server + path;
    const std::string context = method + " " + path;
    bool retried_unauthorized = false;
    // A caller's ScopedRequestDeadline bounds the whole call: throttling, every attempt's
    // transfer and the waits between retries.
    const std::optional<Clock::time_point> deadline = ScopedRequestDeadline::Current();
    ApiStatus last_error;
    for (int attempt = 0;; ++attempt) {
      if (!Throttle(deadline)) return DeadlineExceeded(context, std::move(last_error));
      CURL* curl = Acquire();
      if (!curl) return ApiResult<RawResponse>(InternalError("curl_easy_init failed"));
      CurlSlist headers;
      Setup(curl, url, &headers, /*is_watch=*/false, CurrentToken());
      if (deadline) {
        Clock::time_point now = Clock::now();
        if (now >= *deadline) {
          Release(curl);
          return DeadlineExceeded(context, std::move(last_error));
        }
        long left_ms = MillisecondsUntil(*deadline, now);
        if (left_ms < options.request_timeout.count()) {
          curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left_ms);
        }
      }
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        headers.Add("Content-Type: " + content_type);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      }
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
      RawResponse response;
      HeaderCapture captured;
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, BodyCallback);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
      curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
      curl_easy_setopt(curl, CURLOPT_HEADERDATA, &captured);
      auto started = Clock::now();
      CURLcode rc = curl_easy_perform(curl);
      long http_code = 0;
      if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
      std::string curl_error = rc == CURLE_OK ? "" : curl_easy_strerror(rc);
      Release(curl);
      Record(verb, static_cast<int>(http_code),
             std::chrono::duration<double>(Clock::now() - started).count());
      response.http_code = static_cast<int>(http_code);
      response.content_type = captured.content_type;
      if (rc == CURLE_OK && http_code >= 200 && http_code < 300) return response;

      ApiStatus api;
      if (rc != CURLE_OK) {
        api.message = "transport error: " + curl_error;
        if (deadline && Clock::now() >= *deadline) return DeadlineExceeded(context, std::move(api));
      } else {
        api = ParseApiStatus(static_cast<int>(http_code), response.body);
        if (captured.retry_after_seconds) api.retry_after_seconds = captured.retry_after_seconds;
      }
      if (http_code == 401 && config.token && !config.token->file_path().empty() &&
          !retried_unauthorized) {
        // Projected tokens rotate: re-read the file once and try again.
        retried_unauthorized = true;
        config.token->Invalidate();
        continue;
      }
      // 429 means the server did not act on the request: safe to retry for every verb.
      // A 5xx or a transport failure may have happened after the change was applied, so only
      // reads are retried.
      bool retryable = http_code == 429 ||
                       (method == "GET" && (http_code >= 500 || rc != CURLE_OK));
      if (retryable && attempt < options.max_retries) {
        // The same wait for 429 and for a retried 5xx GET: Retry-After when the server sent one.
        std::chrono::milliseconds wait = RetryWait(api.retry_after_seconds, attempt, options);
        if (deadline && Clock::now() + wait >= *deadline) {
          return DeadlineExceeded(context, std::move(api));
        }
        last_error = api;
        spdlog::debug("msg=\"retrying API request\" request=\"{}\" code={} wait_ms={} attempt={}",
                      context, http_code, wait.count(), attempt + 1);
        std::this_thread::sleep_for(wait);
        continue;
      }
      return ToStatus(api, context);
    }
  }

  ApiResult<Json> DoJson(const std::string& method, const std::string& path, const Json* body,
                         const std::string& content_type, const std::string& verb,
                         Answer answer = Answer::kObject, const FieldMask* mask = nullptr) {
    std::string payload = body ? body->dump() : "";
    ApiResult<RawResponse> raw = Do(method, path, payload, content_type, verb);
    if (!raw.ok()) return raw.status();
    if (answer == Answer::kOutcomeOnly) return Json();
    Json doc = DecodeJson(raw->body, mask);
    if (doc.is_discarded()) {
      return ApiResult<Json>(InternalError(method + " " + path + ": response is not JSON: " +
                                           raw->body.substr(0, 200)));
    }
    return doc;
  }
};

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

ApiResult<Json> HttpClient::Get(const GroupVersionResource& gvr, const std::string& ns,
                                const std::string& name) {
  return impl_->DoJson("GET", gvr.ObjectPath(ns, name), nullptr, "", "get");
}

ApiResult<Json> HttpClient::List(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<Json> HttpClient::Create(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object, Answer answer) {
  return impl_->DoJson("POST", gvr.CollectionPath(ns), &object, "application/json", "create", answer);
}

ApiResult<Json> HttpClient::Update(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object) {
  std::string name = internal::MetaString(object, "name");
  if (name.empty()) return ApiResult<Json>(InvalidArgumentError("update: object has no metadata.name"));
  return impl_->DoJson("PUT", gvr.ObjectPath(ns, name), &object, "application/json", "update");
}

ApiResult<Json> HttpClient::UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                                         const Json& object, Answer answer) {
  std::string name = internal::MetaString(object, "name");
  if (name.empty()) {
    return ApiResult<Json>(InvalidArgumentError("update status: object has no metadata.name"));
  }
  return impl_->DoJson("PUT", gvr.ObjectPath(ns, name, "status"), &object, "application/json",
                       "update", answer);
}

ApiResult<Json> HttpClient::Patch(const GroupVersionResource& gvr, const std::string& ns,
                                  const std::string& name, PatchType type, const Json& patch,
                                  const std::string& subresource, Answer answer) {
  return impl_->DoJson("PATCH", gvr.ObjectPath(ns, name, subresource), &patch,
                       PatchContentType(type), "patch", answer);
}

ApiResult<Json> HttpClient::Delete(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<HttpClient::RawResponse> HttpClient::Raw(const std::string& method,
                                                   const std::string& path,
                                                   const std::string& body,
                                                   const std::string& content_type) {
  return impl_->Do(method, path, body, content_type, VerbOf(method, false));
}

namespace {

// State of one watch stream, touched only from the curl write callback (same thread).
struct WatchState {
  CURL* curl = nullptr;
  const WatchHandler* handler = nullptr;
  std::optional<FieldMask> event_mask;  // from WatchOptions::object_mask
  WatchLineDecoder decoder;
  std::vector<std::string> lines;
  long http_code = 0;
  std::string error_body;      // body of a non-200 answer
  Status stream_status;        // set when the stream ends on our side (bad event, ERROR)
  bool handler_stopped = false;

  // Returns false to abort the transfer.
  bool Deliver(std::string_view bytes) {
    if (http_code == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
    if (http_code != 200) {
      if (error_body.size() < (1u << 20)) error_body.append(bytes);
      return true;
    }
    lines.clear();
    Status fed = decoder.Feed(bytes, &lines);
    if (!fed.ok()) {
      stream_status = fed;
      return false;
    }
    for (const std::string& line : lines) {
      if (!DeliverLine(line)) return false;
    }
    return true;
  }

  bool DeliverLine(const std::string& line) {
    StatusOr<WatchEvent> event = ParseWatchEvent(line, event_mask ? &*event_mask : nullptr);
    if (!event.ok()) {
      // A broken stream cannot be resynchronised: drop it, the caller rewatches.
      stream_status = UnavailableError("watch stream: " + event.status().message());
      return false;
    }
    bool is_error = event->type == WatchEventType::kError;
    Status error_status = is_error ? WatchErrorToStatus(*event) : Status::Ok();
    bool keep_going;
    try {
      keep_going = (*handler)(std::move(event).value());
    } catch (const std::exception& e) {
      // Never let an exception unwind through libcurl's C frames.
      stream_status = InternalError(std::string("watch handler threw: ") + e.what());
      return false;
    } catch (...) {
      stream_status = InternalError("watch handler threw a non-exception");
      return false;
    }
    if (is_error) {
      stream_status = error_status;
      return false;
    }
    if (!keep_going) {
      handler_stopped = true;
      return false;
    }
    return true;
  }
};

size_t WatchWriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<WatchState*>(user);
  size_t n = size * nmemb;
  return state->Deliver(std::string_view(data, n)) ? n : 0;
}

}  // namespace

Status HttpClient::Watch(const GroupVersionResource& gvr, const std::string& ns,
                         const WatchOptions& options, const WatchHandler& handler,
                         std::stop_token stop) {
  std::string path = gvr.CollectionPath(ns) + "?watch=1";
  AppendQuery(&path, "labelSelector", options.label_selector);
  AppendQuery(&path, "fieldSelector", options.field_selector);
  AppendQuery(&path, "resourceVersion", options.resource_version);
  if (options.allow_bookmarks) AppendQuery(&path, "allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    AppendQuery(&path, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  const std::string context = "GET " + path;
  bool retried_unauthorized = false;
  while (true) {
    if (stop.stop_requested()) return Status::Ok();
    impl_->Throttle();
    // A watch holds its connection for minutes: it gets its own handle (not the pool) and a
    // multi handle so that a stop request can wake the poll at once.
    CURL* curl = curl_easy_init();
    CURLM* multi = curl_multi_init();
    if (!curl || !multi) {
      if (curl) curl_easy_cleanup(curl);
      if (multi) curl_multi_cleanup(multi);
      return InternalError("curl init failed");
    }
    CurlSlist headers;
    impl_->Setup(curl, impl_->config.server + path, &headers, /*is_watch=*/true,
                 impl_->CurrentToken());
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
    WatchState state;
    state.curl = curl;
    state.handler = &handler;
    if (options.object_mask) state.event_mask = WatchEventMask(*options.object_mask);
    HeaderCapture captured;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WatchWriteCallback);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &captured);
    curl_multi_add_handle(multi, curl);
    auto started = Clock::now();
    CURLcode result = CURLE_OK;
    bool done = false;
    bool cancelled = false;
    {
      std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
      while (!done) {
        if (stop.stop_requested()) {
          cancelled = true;
          break;
        }
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
          result = CURLE_RECV_ERROR;
          break;
        }
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
          if (msg->msg == CURLMSG_DONE) {
            result = msg->data.result;
            done = true;
          }
        }
        if (done || running == 0) break;
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
      }
    }
    long http_code = state.http_code;
    if (http_code == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
    curl_multi_remove_handle(multi, curl);
    curl_easy_cleanup(curl);
    curl_multi_cleanup(multi);
    impl_->Record("watch", static_cast<int>(http_code),
                  std::chrono::duration<double>(Clock::now() - started).count());

    if (cancelled || state.handler_stopped) return Status::Ok();
    if (!state.stream_status.ok()) return state.stream_status;
    if (http_code == 200) {
      if (result == CURLE_OK) return Status::Ok();  // server closed the stream (timeout)
      return UnavailableError(context + ": watch stream broke: " + curl_easy_strerror(result));
    }
    if (http_code == 0) {
      return UnavailableError(context + ": transport error: " + curl_easy_strerror(result));
    }
    ApiStatus api = ParseApiStatus(static_cast<int>(http_code), state.error_body);
    if (captured.retry_after_seconds) api.retry_after_seconds = captured.retry_after_seconds;
    if (http_code == 401 && impl_->config.token && !impl_->config.token->file_path().empty() &&
        !retried_unauthorized) {
      retried_unauthorized = true;
      impl_->config.token->Invalidate();
      continue;
    }
    return ToStatus(api, context);
  }
}

}  // namespace ringleader::kube
