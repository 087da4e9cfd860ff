#include "ringleader/kube/api_error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "internal.h"

namespace ringleader::kube {

StatusCode MapHttpStatus(int http_code, const std::string& reason) {
  if (http_code == 0) return StatusCode::kUnavailable;
  if (http_code >= 200 && http_code < 300) return StatusCode::kOk;
  switch (http_code) {
    case 400:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kConflict;
    case 410:
      return StatusCode::kGone;
    case 415:
      return StatusCode::kUnimplemented;
    case 429:
      return StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_code >= 500) return StatusCode::kUnavailable;
  return StatusCode::kInvalidArgument;
}

namespace {

using internal::ArrayField;
using internal::IntField;
using internal::ObjectField;
using internal::StringField;

// details.retryAfterSeconds is an int32 in meta/v1, but a server (or a proxy) can send any
// number: a float, a negative, 1e300. Converting such a double to int is undefined behaviour,
// so judge it as a double: negative means no usable hint, fractions round up, and anything
// large saturates (the client caps the wait at max_retry_after anyway).
std::optional<int> RetryAfterFromJson(const Json& details) {
  auto it = details.find("retryAfterSeconds");
  if (it == details.end() || !it->is_number()) return std::nullopt;
  if (std::optional<int64_t> whole = IntField(details, "retryAfterSeconds")) {
    if (*whole < 0) return std::nullopt;
    return static_cast<int>(std::min<int64_t>(*whole, kMaxRetryAfterSeconds));
  }
  if (it->is_number_unsigned()) return kMaxRetryAfterSeconds;  // above INT64_MAX
  double seconds = it->get<double>();
  if (std::isnan(seconds) || seconds < 0) return std::nullopt;
  if (seconds >= kMaxRetryAfterSeconds) return kMaxRetryAfterSeconds;
  return static_cast<int>(std::ceil(seconds));
}

}  // namespace

std::optional<int> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;  // an HTTP-date, or garbage
    seconds = std::min<int64_t>(seconds * 10 + (c - '0'), kMaxRetryAfterSeconds);
  }
  return static_cast<int>(seconds);
}

ApiStatus ParseApiStatus(int http_code, const std::string& body) {
  ApiStatus status;
  status.http_code = http_code;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  // Every field is read type-checked: a body like {"kind":"Status","reason":1} comes from a
  // broken server or proxy and must end as an error result, not as an exception.
  if (doc.is_object() && StringField(doc, "kind") == "Status") {
    status.reason = StringField(doc, "reason");
    status.message = StringField(doc, "message");
    if (http_code == 0) {
      std::optional<int64_t> code = IntField(doc, "code");
      if (code && *code >= 100 && *code <= 599) status.http_code = static_cast<int>(*code);
    }
    if (const nlohmann::json* details = ObjectField(doc, "details")) {
      status.details_name = StringField(*details, "name");
      status.details_kind = StringField(*details, "kind");
      status.retry_after_seconds = RetryAfterFromJson(*details);
      if (const nlohmann::json* causes = ArrayField(*details, "causes")) {
        for (const auto& cause : *causes) {
          if (!cause.is_object()) continue;
          status.causes.push_back(ApiStatusCause{StringField(cause, "reason"),
                                                 StringField(cause, "message"),
                                                 StringField(cause, "field")});
        }
      }
    }
  } else {
    // Not a Status (a proxy's HTML page, plain text): keep a bounded excerpt as the message.
    status.message = body.substr(0, 512);
  }
  return status;
}

Status ToStatus(const ApiStatus& api_status, const std::string& context) {
  std::string message = context;
  if (!message.empty()) message += ": ";
  if (api_status.http_code != 0) message += "HTTP " + std::to_string(api_status.http_code) + " ";
  message += api_status.message.empty() ? "(no message)" : api_status.message;
  if (!api_status.reason.empty()) message += " (reason=" + api_status.reason + ")";
  if (!api_status.causes.empty()) {
    message += " causes:";
    for (const auto& cause : api_status.causes) {
      message += " " + (cause.field.empty() ? std::string("-") : cause.field) + ": " +
                 cause.message + ";";
    }
  }
  StatusCode code = MapHttpStatus(api_status.http_code, api_status.reason);
  if (code == StatusCode::kOk) code = StatusCode::kInternal;
  return Status(code, message).WithDetails(api_status);
}

Status WithApiStatus(const Status& status, ApiStatus api_status) {
  return status.WithDetails(std::move(api_status));
}

const ApiStatus& ApiStatusOf(const Status& status) {
  static const ApiStatus kNone;
  const ApiStatus* attached = status.details<ApiStatus>();
  return attached != nullptr ? *attached : kNone;
}

}  // namespace ringleader::kube
