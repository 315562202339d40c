// The one place where podiam's ErrorCodes become AdmissionResponse refusals (response.status:
// code, reason, message), so users see the same wording in `kubectl` and in the webhook's log.
//
// Thread-safety: pure function.
#pragma once

#include "podiam/base/error.hpp"
#include "podiam/webhook/admission.hpp"

namespace podiam::webhook {

// kInvalidArgument -> 400 BadRequest; kUnavailable, kDeadlineExceeded, kResourceExhausted ->
// 503 ServiceUnavailable; kPermissionDenied, kUnauthenticated -> 500 InternalError (the webhook's
// own RBAC is wrong); anything else -> 500 InternalError. The message starts with "podiam
// webhook:".
AdmissionVerdict Refusal(const Error& error);

}  // namespace podiam::webhook
