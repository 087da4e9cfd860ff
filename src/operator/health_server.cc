#include "ringleader/operator/health_server.h"

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include <mutex>

#include "ringleader/common/metrics.h"

namespace ringleader::controller {

namespace http = web::http;
using web::http::experimental::listener::http_listener;

struct HealthServer::Impl {
  std::unique_ptr<http_listener> listener;
  metrics::Registry* registry = nullptr;
  HealthProbes probes;
  bool open = false;

  void Handle(const http::http_request& request) {
    const std::string path = request.relative_uri().path();
    if (path == "/metrics") {
      request.reply(http::status_codes::OK, registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
      return;
    }
    std::function<bool(std::string*)>* probe = nullptr;
    if (path == "/healthz" || path == "/livez") probe = &probes.healthy;
    if (path == "/readyz") probe = &probes.ready;
    if (probe == nullptr) {
      request.reply(http::status_codes::NotFound, "not found: try /metrics, /healthz or /readyz\n",
                    "text/plain; charset=utf-8");
      return;
    }
    std::string detail;
    bool ok = *probe ? (*probe)(&detail) : true;
    request.reply(ok ? http::status_codes::OK : http::status_codes::ServiceUnavailable,
                  (ok ? "ok" : "not ok") + (detail.empty() ? std::string() : ": " + detail) + "\n",
                  "text/plain; charset=utf-8");
  }
};

StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgumentError("address \"" + address + "\": want HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (...) {
    port = -1;
  }
  if (port < 1 || port > 65535) {
    return InvalidArgumentError("address \"" + address + "\": port must be 1..65535, got \"" + port_text + "\"");
  }
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, port);
}

StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& address,
                                                             metrics::Registry& registry, HealthProbes probes) {
  ASSIGN_OR_RETURN(auto host_port, ParseHostPort(address));
  auto impl = std::make_unique<Impl>();
  impl->registry = &registry;
  impl->probes = std::move(probes);
  std::string uri = "http://" + host_port.first + ":" + std::to_string(host_port.second) + "/";
  // cpprestsdk's shared pool defaults to 40 threads; scrapes and probes need two. It can be
  // sized only before its first use, once per process (later calls throw: keep the size).
  static std::once_flag pool_sized;
  std::call_once(pool_sized, [] {
    try {
      crossplat::threadpool::initialize_with_threads(2);
    } catch (const std::exception&) {
    }
  });
  try {
    impl->listener = std::make_unique<http_listener>(uri);
    Impl* raw = impl.get();
    impl->listener->support(http::methods::GET, [raw](const http::http_request& r) { raw->Handle(r); });
    impl->listener->open().wait();
    impl->open = true;
  } catch (const std::exception& e) {
    return UnavailableError("cannot serve metrics and health on " + address + ": " + e.what());
  }
  return std::unique_ptr<HealthServer>(new HealthServer(std::move(impl)));
}

HealthServer::HealthServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HealthServer::~HealthServer() { Stop(); }

void HealthServer::Stop() {
  if (!impl_ || !impl_->open) return;
  impl_->open = false;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
    // Closing a listener whose connections already went away; nothing left to do.
  }
}

}  // namespace ringleader::controller
