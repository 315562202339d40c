// The untrusted parts of a container-credentials request, parsed without trusting them
// (docs/container-credentials.md, "The request"), and the one place refusals become HTTP.
//
//   HostName("[fd00:ec2::23]:80")  -> "fd00:ec2::23"   (brackets and port stripped)
//   HostName("169.254.170.23")     -> "169.254.170.23"
//   ParseJwtTimes(token)           -> exp / nbf / iat of the payload, signature NOT checked: only
//                                     to refuse a malformed or expired token before asking the
//                                     apiserver, and to bound how long a review is cached.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/base/error.hpp"
#include "podiam/http/message.hpp"

namespace podiam::containercreds {

// The host part of a Host header value, lower-cased; nullopt when it is not a well-formed
// host[:port] or [v6-literal][:port].
std::optional<std::string> HostName(std::string_view header);

// The registered time claims of a JWT (RFC 7519 §4.1.4-6), in seconds since the epoch.
struct JwtTimes {
  std::int64_t exp = 0;  // required
  std::optional<std::int64_t> nbf;
  std::optional<std::int64_t> iat;
};

// kInvalidArgument unless `token` is three base64url segments (no padding, no whitespace) whose
// first two decode to JSON objects, the payload carrying a numeric `exp`.
Result<JwtTimes> ParseJwtTimes(std::string_view token);

// base64url without padding (RFC 4648 §5); nullopt on any other character or an impossible length.
std::optional<std::string> DecodeBase64Url(std::string_view text);

// Every refusal of the handler, and its HTTP status (the only mapping).
enum class Refusal {
  kBadRequest,       // 400: no Authorization, or not a JWT
  kMethod,           // 405
  kNotFound,         // 404: another path
  kUnauthenticated,  // 401: TokenReview said no, expired, wrong audience, not pod-bound
  kForbidden,        // 403: wrong Host, pod not here / replaced / finished, source IP, role denied
  kNoRole,           // 404: no association and no annotation
  kRateLimited,      // 429
  kUnavailable,      // 503: not synced, apiserver or STS unreachable with nothing cached
};

int RefusalStatus(Refusal refusal);
std::string_view RefusalCode(Refusal refusal);
// JSON body {"code","message"} (the Go SDK's documented error shape).
http::Response RefusalResponse(Refusal refusal, std::string_view message);

}  // namespace podiam::containercreds
