// Errors as values: every expected failure in podiam is a Result<T> holding either a T or an
// Error with a closed ErrorCode, a human-readable message, the upstream code (for example STS's
// Error.Code) and whether a retry may succeed.
//
// Thread-safety: plain values.
//
//   Result<Arn> ParseArn(std::string_view text);
//   auto arn = ParseArn("arn:aws:iam::123456789012:role/app");
//   if (!arn) { return tl::unexpected(arn.error()); }
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace podiam {

// Closed set of failure kinds. Each edge (HTTP handlers, CLI) maps these to its own vocabulary in
// exactly one place.
enum class ErrorCode {
  kInvalidArgument,     // the caller sent something malformed
  kNotFound,            // the thing asked for does not exist
  kPermissionDenied,    // authenticated, but policy says no
  kUnauthenticated,     // identity missing, bad or expired
  kFailedPrecondition,  // state does not allow it yet (e.g. not synced)
  kResourceExhausted,   // throttled or over a limit
  kDeadlineExceeded,    // ran out of time
  kUnavailable,         // upstream down or unreachable; usually retryable
  kUpstreamInvalid,     // upstream answered something we cannot parse
  kConflict,            // concurrent modification, already exists
  kInternal,            // a bug or an impossible state
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, std::string upstream_code = {}, bool retryable = false)
      : code_(code),
        message_(std::move(message)),
        upstream_code_(std::move(upstream_code)),
        retryable_(retryable) {}

  [[nodiscard]] ErrorCode code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  // The code the remote side used (e.g. "Throttling", "AccessDenied"); empty when local.
  [[nodiscard]] const std::string& upstream_code() const { return upstream_code_; }
  [[nodiscard]] bool retryable() const { return retryable_; }

  // "kind: message (upstream)" for logs and error bodies.
  [[nodiscard]] std::string ToString() const;

  // Returns a copy whose message is prefixed with context ("assume role: ...").
  [[nodiscard]] Error Wrap(std::string_view context) const;

 private:
  ErrorCode code_;
  std::string message_;
  std::string upstream_code_;
  bool retryable_;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Result<void> success value: `return Ok();`.
inline Result<void> Ok() { return {}; }

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message,
                                       std::string upstream_code = {}, bool retryable = false) {
  return tl::unexpected<Error>(
      Error(code, std::move(message), std::move(upstream_code), retryable));
}

}  // namespace podiam
