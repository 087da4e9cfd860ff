#pragma once
// The real Client: HTTP/JSON over libcurl.
//
// - Connection reuse: a pool of curl easy handles (keep-alive; HTTP/2 over TLS when the
//   server offers it). Requests run on the caller's thread: no thread per request.
// - Client-side QPS/burst token bucket (RestConfig::qps/burst; qps <= 0 disables it).
// - 429 and 5xx: retried up to `max_retries` times, waiting Retry-After (header, else the
//   Status's details.retryAfterSeconds; clamped to [0, `max_retry_after`]) or an exponential
//   backoff from `retry_backoff` when it gave none (or a negative one). 429 is retried for
//   every verb (the server did not act on the request); 5xx and transport errors only for
//   GET (a failed write may still have taken effect), and those GET retries honour
//   Retry-After the same way.
// - A ScopedRequestDeadline (client.h) on the calling thread bounds a call: transfer
//   timeouts are cut to the time left, and no rate-limiter or retry wait runs past it
//   (kDeadlineExceeded). Watches ignore it.
// - 401 with a file token: the token file is re-read and the request retried once.
// - Metrics: ringleader_api_requests_total{verb,code} and
//   ringleader_api_request_duration_seconds{verb} in the given registry.
//
// Thread-safety: all methods may be called concurrently.

#include <chrono>
#include <memory>

#include "ringleader/kube/client.h"
#include "ringleader/kube/config.h"

namespace ringleader::metrics {
class Registry;
}

namespace ringleader::kube {

struct HttpClientOptions {
  int max_retries = 5;
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(30)};
  std::chrono::milliseconds retry_backoff{200};  // when no Retry-After is given
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};  // not for watches
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // nullptr: metrics::Registry::Default().
  metrics::Registry* registry = nullptr;
};

class HttpClient final : public Client {
 public:
  // Fails when the config is unusable (no server, unreadable CA/cert files).
  static StatusOr<std::unique_ptr<HttpClient>> Create(RestConfig config,
                                                      HttpClientOptions options = {});
  ~HttpClient() override;

  StatusOr<Json> Get(const GroupVersionResource& gvr, const std::string& ns,
                      const std::string& name) override;
  StatusOr<Json> List(const GroupVersionResource& gvr, const std::string& ns,
                       const ListOptions& options = {}) override;
  StatusOr<Json> Create(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object, Answer answer = Answer::kObject) override;
  StatusOr<Json> Update(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object) override;
  StatusOr<Json> UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                               const Json& object, Answer answer = Answer::kObject) override;
  StatusOr<Json> Patch(const GroupVersionResource& gvr, const std::string& ns,
                        const std::string& name, PatchType type, const Json& patch,
                        const std::string& subresource = "", Answer answer = Answer::kObject) override;
  StatusOr<Json> Delete(const GroupVersionResource& gvr, const std::string& ns,
                         const std::string& name, const DeleteOptions& options = {}) override;
  Status Watch(const GroupVersionResource& gvr, const std::string& ns,
               const WatchOptions& options, const WatchHandler& handler,
               std::stop_token stop = {}) override;

  // Raw request for discovery and anything without a typed call. `path` includes the query.
  struct RawResponse {
    int http_code = 0;
    std::string body;
    std::string content_type;
  };
  StatusOr<RawResponse> Raw(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             const std::string& content_type = "application/json");

  const RestConfig& config() const;

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringleader::kube
