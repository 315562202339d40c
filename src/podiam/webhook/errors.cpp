#include "podiam/webhook/errors.hpp"

namespace podiam::webhook {

AdmissionVerdict Refusal(const Error& error) {
  AdmissionVerdict v{.allowed = false, .message = "podiam webhook: " + error.message()};
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      v.code = 400;
      v.reason = "BadRequest";
      break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
    case ErrorCode::kResourceExhausted:
      v.code = 503;
      v.reason = "ServiceUnavailable";
      break;
    default:
      v.code = 500;
      v.reason = "InternalError";
      break;
  }
  return v;
}

}  // namespace podiam::webhook
