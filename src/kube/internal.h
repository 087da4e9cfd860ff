#pragma once
// Helpers shared by the kube sources; not part of the public API.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube::internal {

// "2026-11-22T05:30:00Z", or with microseconds ("...:00.123456Z", meta/v1 MicroTime).
std::string FormatTimestamp(std::chrono::system_clock::time_point at, bool microseconds = false);

// Sleeps for `d` or until `stop` is requested; returns false when stopped.
bool SleepUnlessStopped(const std::stop_token& stop, Duration d);

// Type-checked reads of server JSON. nlohmann's value()/get<>() throw type_error when a key
// exists with another type (`{"kind":1}`), and an exception escaping a watch callback or an
// informer thread terminates the process; these return the fallback instead.

// object[key] when `object` is an object and the field is a string, else "".
std::string StringField(const Json& object, const char* key);
// object[key] when it is a boolean, else `fallback`.
bool BoolField(const Json& object, const char* key, bool fallback = false);
// object[key] when it is an integer that fits in int64 (floats are not integers), else nullopt.
std::optional<int64_t> IntField(const Json& object, const char* key);
// object[key] when it is an object (or an array, for ArrayField), else nullptr.
const Json* ObjectField(const Json& object, const char* key);
const Json* ArrayField(const Json& object, const char* key);

// metadata.<field> when it is a string, else "".
std::string MetaString(const Json& object, const char* field);

}  // namespace ringleader::kube::internal
