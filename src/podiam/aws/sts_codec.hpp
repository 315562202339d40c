// The STS Query API on the wire (docs/protocols.md#sts-query-api), without any I/O:
//   - client-side validation of request members (docs/protocols.md#sts-requests), with errors that
//   name the
//     member and the rule;
//   - form bodies (Action=...&Version=2011-06-15&..., RFC 3986 encoded, lists as
//     Tags.member.N.Key / PolicyArns.member.N.arn / TransitiveTagKeys.member.N);
//   - response XML -> result values (pugixml), Expiration with or without fractional seconds;
//   - error XML / HTTP status -> Error with the STS code as upstream_code() and a retryable flag.
// HttpStsClient composes these with signing, transport and retries.
//
// Thread-safety: pure functions.
//
//   auto body = aws::EncodeAssumeRole(request);              // Result<std::string>
//   auto result = aws::ParseAssumeRoleResponse(response.body);
//   Error e = aws::StsErrorFromResponse(response.status, response.body);
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podiam/aws/sts_client.hpp"
#include "podiam/base/error.hpp"

namespace podiam::aws {

inline constexpr std::string_view kStsApiVersion = "2011-06-15";
inline constexpr std::string_view kFormContentType =
    "application/x-www-form-urlencoded; charset=utf-8";

using FormParams = std::vector<std::pair<std::string, std::string>>;

// "k=v&k2=v2", both sides RFC 3986 percent-encoded (as botocore's Query serializer does).
std::string FormEncode(const FormParams& params);

// Request bodies; each validates first and returns kInvalidArgument naming the bad member.
Result<std::string> EncodeAssumeRole(const AssumeRoleRequest& request);
Result<std::string> EncodeAssumeRoleWithWebIdentity(
    const AssumeRoleWithWebIdentityRequest& request);
std::string EncodeGetCallerIdentity();

Result<void> ValidateAssumeRole(const AssumeRoleRequest& request);
Result<void> ValidateAssumeRoleWithWebIdentity(const AssumeRoleWithWebIdentityRequest& request);

// RoleSessionName rule: 2-64 characters of [\w+=,.@-].
Result<void> ValidateSessionName(std::string_view name);
// Turns any text (a pod name, "namespace/pod") into a valid session name: disallowed characters
// become '-', at most 64 characters, padded with '-' to the minimum of 2.
std::string SanitizeSessionName(std::string_view text);

// Responses with status 200. kUpstreamInvalid when the XML is not the expected shape.
Result<AssumeRoleResult> ParseAssumeRoleResponse(std::string_view xml);
Result<AssumeRoleWithWebIdentityResult> ParseAssumeRoleWithWebIdentityResponse(
    std::string_view xml);
Result<CallerIdentity> ParseGetCallerIdentityResponse(std::string_view xml);

// Any non-200 response: the STS error code decides the ErrorCode and whether to retry; without
// a parsable error body the HTTP status does (5xx and 429 retryable, others kUpstreamInvalid).
Error StsErrorFromResponse(int status, std::string_view body);
// The mapping of one STS error code (exposed for tests and for callers that log or cache errors).
Error StsErrorFromCode(std::string_view code, std::string_view message, int status);

}  // namespace podiam::aws
