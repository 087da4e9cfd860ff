#include "internal.h"

#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace ringleader::kube::internal {

std::string FormatTimestamp(std::chrono::system_clock::time_point at, bool microseconds) {
  std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char seconds[32];
  std::strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!microseconds) return std::string(seconds) + "Z";
  long long micros =
      std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count() % 1000000;
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%06lldZ", seconds, micros);
  return out;
}

bool SleepUnlessStopped(const std::stop_token& stop, Duration d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

std::string MetaString(const Json& object, const char* field) { return json_fields::MetadataString(object, field); }

}  // namespace ringleader::kube::internal
