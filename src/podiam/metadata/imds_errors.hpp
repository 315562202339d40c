// Every refusal the IMDS handler can give a pod, and the one function that turns it into an HTTP
// response: status, headers, body and the `reason` label of podiam_imds_rejections_total. The
// handler's code paths only say *what* went wrong (an ImdsError value); *how* a pod is told lives
// here, in one table, so that the statuses SDKs act on (docs/agent.md, "The metadata protocol")
// can be read and tested in one place:
//
//   - 503 with IMDS's JSON error body ({"Code":..,"Message":..}) for everything a retry may fix
//     (not ready, busy, a pending decision, STS failing): every SDK retries it;
//   - 4xx with a one-line text body for everything a retry cannot fix;
//   - 502 when the node's own metadata service does not answer a pass-through.
//
// Other pod-facing protocols (the container-credentials endpoint) keep their own sibling map in
// the same shape: an error enum, a table, one response function.
//
// Thread-safety: pure functions over a constant table.
//
//   return ImdsErrorResponse({.kind = ImdsErrorKind::kDenied, .message = decision.reason});
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "podiam/http/message.hpp"

namespace podiam::metadata {

enum class ImdsErrorKind {
  kForwarded,               // X-Forwarded-For present                       403
  kMethodToken,             // not PUT on the token path                      405, Allow: PUT
  kMethod,                  // not GET/HEAD elsewhere                         405, Allow: GET, HEAD
  kNotReady,                // caches not listed yet                          503 NotReady
  kBusyWaiting,             // too many requests parked for unknown pods      503 Busy
  kBusyQueued,              // the blocking-work queue refused                503 Busy
  kUnknownPod,              // no pod owns the source address                 404
  kBadTtl,                  // token PUT with a missing or invalid TTL         400
  kNoToken,                 // IMDSv1 off and no token                        401
  kBadToken,                // token invalid, expired or another pod's        401
  kPathNotAllowed,          // not a path podiam answers or passes through     404
  kNoRole,                  // the pod has no role                            404
  kDenied,                  // namespace policy refuses the role              403
  kInvalidRole,             // malformed role annotation                      403
  kPending,                 // decision not possible yet                       503 Pending
  kWrongRole,               // credentials asked for another role's name       404
  kCredentialsUnavailable,  // STS failed or timed out                        503 <STS code>
  kUpstreamError,           // the node's metadata service did not answer     502
};

struct ImdsError {
  ImdsErrorKind kind;
  // The text for kinds whose message depends on the case (the TTL or token problem, the denial
  // reason, STS's message, the unknown address); empty: the table's fixed message.
  std::string message;
  // kCredentialsUnavailable: the error code to show (STS's Error.Code, else podiam's ErrorCode).
  std::string code;
};

// The pod's answer to `error`.
http::Response ImdsErrorResponse(const ImdsError& error);
// Its podiam_imds_rejections_total reason label (docs/metrics.md).
std::string_view ImdsErrorReason(ImdsErrorKind kind);
// Every kind, in declaration order (for tests and the metrics catalogue).
std::span<const ImdsErrorKind> AllImdsErrorKinds();

}  // namespace podiam::metadata
