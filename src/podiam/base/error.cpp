#include "podiam/base/error.hpp"

#include <fmt/format.h>

namespace podiam {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kUpstreamInvalid:
      return "upstream_invalid";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const {
  if (upstream_code_.empty()) {
    return fmt::format("{}: {}", ErrorCodeName(code_), message_);
  }
  return fmt::format("{}: {} ({})", ErrorCodeName(code_), message_, upstream_code_);
}

Error Error::Wrap(std::string_view context) const {
  return {code_, fmt::format("{}: {}", context, message_), upstream_code_, retryable_};
}

}  // namespace podiam
