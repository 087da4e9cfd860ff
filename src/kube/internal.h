#pragma once
// Helpers shared by the kube sources; not part of the public API.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

#include "ringleader/common/json_fields.h"
#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube::internal {

// Sleeps for `d` or until `stop` is requested; returns false when stopped.
bool SleepUnlessStopped(const std::stop_token& stop, Duration d);

// Type-checked reads of server JSON (ringleader/common/json_fields.h).
using json_fields::ArrayField;
using json_fields::BoolField;
using json_fields::IntField;
using json_fields::ObjectField;
using json_fields::StringField;

// metadata.<field> when it is a string, else "".
std::string MetaString(const Json& object, const char* field);

}  // namespace ringleader::kube::internal
