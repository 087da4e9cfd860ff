#include "ringleader/kube/api_error.h"

#include <nlohmann/json.hpp>

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

ApiStatus ParseApiStatus(int http_code, const std::string& body) {
  ApiStatus status;
  status.http_code = http_code;
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.value("kind", "") == "Status") {
    status.reason = doc.value("reason", "");
    status.message = doc.value("message", "");
    if (doc.contains("code") && doc["code"].is_number_integer() && http_code == 0) {
      status.http_code = doc["code"].get<int>();
    }
    if (doc.contains("details") && doc["details"].is_object()) {
      const auto& details = doc["details"];
      status.details_name = details.value("name", "");
      status.details_kind = details.value("kind", "");
      if (details.contains("retryAfterSeconds") && details["retryAfterSeconds"].is_number()) {
        status.retry_after_seconds = details["retryAfterSeconds"].get<int>();
      }
      if (details.contains("causes") && details["causes"].is_array()) {
        for (const auto& cause : details["causes"]) {
          if (!cause.is_object()) continue;
          status.causes.push_back(ApiStatusCause{cause.value("reason", ""),
                                                 cause.value("message", ""),
                                                 cause.value("field", "")});
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
  return Status(code, message);
}

}  // namespace ringleader::kube
