#pragma once
// HttpClient's private parts shared by its sources: the libcurl plumbing (header capture,
// body sink, header lists), retry timing, and HttpClient::Impl (the connection pool, the
// rate limiter, metrics, and the request loop with retries). http_client.cc holds the typed
// calls, http_watch.cc the watch stream.

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "internal.h"
#include "ringleader/common/metrics.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube::http_detail {

struct HeaderCapture {
  std::optional<int> retry_after_seconds;
  std::string content_type;
};

// CURLOPT_HEADERFUNCTION: fills a HeaderCapture (Retry-After, Content-Type).
size_t HeaderCallback(char* data, size_t size, size_t nitems, void* user);
// CURLOPT_WRITEFUNCTION: appends to a std::string.
size_t BodyCallback(char* data, size_t size, size_t nmemb, void* user);

struct CurlSlist {
  curl_slist* list = nullptr;
  ~CurlSlist() { curl_slist_free_all(list); }
  void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

// The metrics verb of a request: get list create update patch delete other.
std::string VerbOf(const std::string& method, bool collection);

// How long to wait before retry number `attempt + 1`: the server's Retry-After when it gave
// one, else an exponential backoff; always within [0, max_retry_after]. Computed in
// milliseconds of int64 so that a Retry-After of a day cannot overflow.
std::chrono::milliseconds RetryWait(const std::optional<int>& retry_after_seconds, int attempt,
                                    const HttpClientOptions& options);

// Milliseconds left until `deadline`, rounded up (curl treats a timeout of 0 as "none").
long MillisecondsUntil(Clock::time_point deadline, Clock::time_point now);

// Appends "?name=value" or "&name=value" (URL-encoded); nothing for an empty value.
void AppendQuery(std::string* path, const char* name, const std::string& value);

}  // namespace ringleader::kube::http_detail

namespace ringleader::kube {

using http_detail::AppendQuery;
using http_detail::BodyCallback;
using http_detail::CurlSlist;
using http_detail::HeaderCallback;
using http_detail::HeaderCapture;
using http_detail::MillisecondsUntil;
using http_detail::RetryWait;
using http_detail::VerbOf;

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

  static StatusOr<RawResponse> DeadlineExceeded(const std::string& context, ApiStatus api) {
    std::string message = context + ": request deadline exceeded";
    if (!api.message.empty()) message += " (last error: " + api.message + ")";
    return WithApiStatus(DeadlineExceededError(message), std::move(api));
  }

  StatusOr<RawResponse> Do(const std::string& method, const std::string& path,
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
      if (!curl) return StatusOr<RawResponse>(InternalError("curl_easy_init failed"));
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

  StatusOr<Json> DoJson(const std::string& method, const std::string& path, const Json* body,
                         const std::string& content_type, const std::string& verb,
                         Answer answer = Answer::kObject, const FieldMask* mask = nullptr) {
    std::string payload = body ? body->dump() : "";
    StatusOr<RawResponse> raw = Do(method, path, payload, content_type, verb);
    if (!raw.ok()) return raw.status();
    if (answer == Answer::kOutcomeOnly) return Json();
    Json doc = DecodeJson(raw->body, mask);
    if (doc.is_discarded()) {
      return StatusOr<Json>(InternalError(method + " " + path + ": response is not JSON: " +
                                           raw->body.substr(0, 200)));
    }
    return doc;
  }
};

}  // namespace ringleader::kube
