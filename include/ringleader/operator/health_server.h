#pragma once
// The operator's small HTTP endpoint: /metrics (Prometheus text format 0.0.4 from a
// metrics::Registry), /healthz (whatever the `healthy` probe says: the operator's is
// a heartbeat of its cache-reading loop) and /readyz (caches
// synced when leading, or standing by as a non-leader). Served by cpprestsdk's http_listener:
// it is the one HTTP server among our dependencies, and the operator needs nothing more
// than these three GETs.
//
// Thread-safety: the probes are called from cpprestsdk's thread pool; they must be
// thread-safe. Start/Stop from one owner thread.

#include <functional>
#include <memory>
#include <string>

#include "ringleader/common/status.h"

namespace ringleader::metrics {
class Registry;
}

namespace ringleader::controller {

struct HealthProbes {
  // Return true when healthy/ready; fill `detail` with a one-line reason either way.
  std::function<bool(std::string* detail)> healthy;
  std::function<bool(std::string* detail)> ready;
};

class HealthServer {
 public:
  // `address` is HOST:PORT (PORT > 0). Fails with a message naming the address when the
  // port cannot be bound.
  static StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& address,
                                                       metrics::Registry& registry, HealthProbes probes);
  ~HealthServer();  // Stop()s
  void Stop();

  struct Impl;

 private:
  explicit HealthServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (HOST may be empty, meaning all interfaces, or a bracketed IPv6
// address). Errors name the flag value.
StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address);

}  // namespace ringleader::controller
