#include "internal.h"

#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace ringleader::kube::internal {

bool SleepUnlessStopped(const std::stop_token& stop, Duration d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

std::string MetaString(const Json& object, const char* field) { return json_fields::MetadataString(object, field); }

}  // namespace ringleader::kube::internal
