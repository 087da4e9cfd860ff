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

namespace {

const Json* Field(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

}  // namespace

std::string StringField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_string() ? field->get_ref<const std::string&>() : std::string();
}

bool BoolField(const Json& object, const char* key, bool fallback) {
  const Json* field = Field(object, key);
  return field && field->is_boolean() ? field->get<bool>() : fallback;
}

std::optional<int64_t> IntField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  if (!field) return std::nullopt;
  if (field->is_number_unsigned()) {
    uint64_t value = field->get<uint64_t>();
    if (value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(value);
  }
  if (field->is_number_integer()) return field->get<int64_t>();
  return std::nullopt;
}

const Json* ObjectField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_object() ? field : nullptr;
}

const Json* ArrayField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_array() ? field : nullptr;
}

std::string MetaString(const Json& object, const char* field) {
  const Json* meta = ObjectField(object, "metadata");
  return meta ? StringField(*meta, field) : std::string();
}

}  // namespace ringleader::kube::internal
