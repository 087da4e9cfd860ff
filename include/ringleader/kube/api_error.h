#pragma once
// How API errors come back. Every call returns a StatusOr<T> (StatusOr<T>): a
// ringleader::Status whose code decides what the caller does (see MapHttpStatus) and which
// carries, as its details, the decoded meta/v1 `Status` object (reason, code, message, causes)
// for callers that need them, e.g. the field names of a 422 Invalid: read it with ApiStatusOf.
//
// Thread-safety: value types.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::kube {

// One entry of Status.details.causes.
struct ApiStatusCause {
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", ...
  std::string message;
  std::string field;    // "spec.replicas"
};

// The meta/v1 Status object a server returns for a failed request (or synthesised from the
// HTTP status when the body was not a Status, or from a transport error with http_code 0).
struct ApiStatus {
  int http_code = 0;       // 0: no HTTP response (connection refused, timeout, ...)
  std::string reason;      // "NotFound", "AlreadyExists", "Conflict", "Invalid", "Expired", ...
  std::string message;
  std::string details_name;
  std::string details_kind;
  std::vector<ApiStatusCause> causes;
  // Retry-After header or details.retryAfterSeconds, in [0, kMaxRetryAfterSeconds]; absent
  // when the server gave none or gave one we cannot use (negative, an HTTP-date).
  std::optional<int> retry_after_seconds;
};

// Larger Retry-After values saturate here (a day; HttpClient caps its wait far lower, at
// HttpClientOptions::max_retry_after).
inline constexpr int kMaxRetryAfterSeconds = 86400;

// The delta-seconds form of a Retry-After header value ("120"), saturating at
// kMaxRetryAfterSeconds; nullopt for an HTTP-date, a negative number or garbage.
std::optional<int> ParseRetryAfter(std::string_view value);

// Maps an HTTP status and the Status.reason to a StatusCode:
// 404→kNotFound, 409+AlreadyExists→kAlreadyExists, other 409→kConflict,
// 400/422→kInvalidArgument, 401/403→kPermissionDenied, 410→kGone, 429→kResourceExhausted,
// 415→kUnimplemented, 5xx and 0 (network)→kUnavailable, other 4xx→kInvalidArgument.
StatusCode MapHttpStatus(int http_code, const std::string& reason);

// Decodes an error body (JSON Status or anything else) into an ApiStatus. Never throws:
// fields of the wrong type are ignored, as if absent.
ApiStatus ParseApiStatus(int http_code, const std::string& body);

// Builds the ringleader::Status for an ApiStatus: the code from MapHttpStatus, a message
// "<verb> <path>: <server message> (reason=..., causes: field: message; ...)", and the
// ApiStatus attached as details.
Status ToStatus(const ApiStatus& api_status, const std::string& context);

// Attaches `api_status` to `status` as its details (see ApiStatusOf).
Status WithApiStatus(const Status& status, ApiStatus api_status);

// The server's Status object attached to `status` by the client; a default ApiStatus (http_code
// 0, no reason) for successes and for errors that carry none.
const ApiStatus& ApiStatusOf(const Status& status);
template <typename T>
const ApiStatus& ApiStatusOf(const StatusOr<T>& result) {
  return ApiStatusOf(result.status());
}

}  // namespace ringleader::kube
