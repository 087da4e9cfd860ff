#pragma once
// One error model for all of Ringleader: a Status carries a code that decides what the caller
// does next (retry with backoff, surface to the user, give up), and a message that names the
// field, peer or object involved. No exceptions cross module boundaries.
//
// A Status may carry structured details for callers that need more than the code and message
// (the Kubernetes client attaches the server's meta/v1 Status: reason, causes, Retry-After).
// Details are keyed by their type, immutable, and shared between copies; common knows none of
// their types.
//
// Thread-safety: value types; safe to copy between threads.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ringleader {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad input: terminal, report to the user with the field name
  kNotFound,
  kAlreadyExists,
  kConflict,           // optimistic-concurrency failure: re-read and retry
  kUnavailable,        // network / server trouble: retry with backoff
  kDeadlineExceeded,   // a wait ran out of time
  kPermissionDenied,
  kResourceExhausted,  // 429 / too large
  kGone,               // 410: the watch resourceVersion is too old, relist
  kAborted,            // a peer failed or the operation was cancelled
  kInternal,
  kUnimplemented,
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", for logs and CLI output.
  std::string ToString() const;

  // True for errors where retrying the same request later can succeed.
  bool IsRetryable() const;

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }
  bool IsConflict() const { return code_ == StatusCode::kConflict; }
  bool IsGone() const { return code_ == StatusCode::kGone; }

  // This status with `details` attached (replacing any details it had).
  template <typename Details>
  Status WithDetails(Details details) const {
    Status copy = *this;
    copy.details_ = std::make_shared<const Details>(std::move(details));
    copy.details_key_ = &kDetailsKey<Details>;
    return copy;
  }
  // The attached details when they are a `Details`, else nullptr. Valid while this Status (or
  // a copy of it) lives.
  template <typename Details>
  const Details* details() const {
    if (details_key_ != &kDetailsKey<Details>) return nullptr;
    return static_cast<const Details*>(details_.get());
  }

 private:
  // One address per details type: the type key, without RTTI.
  template <typename Details>
  static constexpr char kDetailsKey = 0;

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::shared_ptr<const void> details_;
  const void* details_key_ = nullptr;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// StatusOr<T>: either a value or a non-OK Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = InternalError("StatusOr constructed from OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  StatusCode code() const { return status_.code(); }
  bool IsNotFound() const { return status_.IsNotFound(); }
  bool IsAlreadyExists() const { return status_.IsAlreadyExists(); }
  bool IsConflict() const { return status_.IsConflict(); }
  bool IsGone() const { return status_.IsGone(); }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace ringleader

#define RL_CONCAT_INNER(a, b) a##b
#define RL_CONCAT(a, b) RL_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::ringleader::Status rl_status_ = (expr);      \
    if (!rl_status_.ok()) return rl_status_;       \
  } while (0)

#define RL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s Status on error.
#define ASSIGN_OR_RETURN(lhs, expr) RL_ASSIGN_OR_RETURN_IMPL(RL_CONCAT(rl_statusor_, __LINE__), lhs, expr)
