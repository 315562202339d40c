// The wire format of the agent protocol v1 (docs/server.md, "Agent protocol"), parsed without
// trusting it, and the one place refusals become HTTP:
//
//   POST /v1/credentials
//   Authorization: Bearer <the agent's projected ServiceAccount token>
//   {"namespace":"team-a","name":"web-1","uid":"0b3c…","roleArn":"arn:aws:iam::…:role/app"}
//
//   200 {"roleArn","sessionName","assumedRoleUser":{"arn","assumedRoleId"},
//        "credentials":{"AccessKeyId","SecretAccessKey","SessionToken","Expiration"}}
//   4xx/5xx {"code","message","retryable"[,"upstreamCode"]}
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"
#include "podiam/http/message.hpp"

namespace podiam::server {

inline constexpr std::string_view kCredentialsPath = "/v1/credentials";
inline constexpr std::size_t kMaxBodyBytes = 4096;
inline constexpr std::size_t kMaxTokenBytes = std::size_t{16} * 1024;

// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, one or more
// spaces); nullopt when absent, empty, another scheme, longer than kMaxTokenBytes or holding
// anything but visible ASCII.
std::optional<std::string_view> BearerToken(std::string_view header);

// What an agent asks for.
struct CredentialsRequest {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string role_arn;
};

// kInvalidArgument (the message says what is wrong, without echoing the body) unless `body` is at
// most kMaxBodyBytes of a JSON object whose "namespace", "name", "uid" and "roleArn" are
// non-empty strings of at most 253 bytes (other members are ignored).
Result<CredentialsRequest> ParseRequest(std::string_view body);

// Every answer but 200, with its HTTP status and code (the only mapping).
enum class Refusal {
  kUnauthorized,            // 401: no/ill-formed Bearer token, TokenReview said no
  kNotAnAgent,              // 403: the token is not an allowed agent ServiceAccount's
  kNoNodeBinding,           // 403: the token is not bound to a node
  kBadRequest,              // 400: body not valid
  kPodNotFound,             // 404: no such pod, or another UID
  kPodNotOnNode,            // 403: the pod is not on the agent's node
  kRoleDenied,              // 403: the server's decision denies the pod's role
  kNoRole,                  // 404: the pod has no role
  kRoleMismatch,            // 409: the agent's role differs from the server's decision
  kCredentialsDenied,       // 403: STS refused for good (AccessDenied, ...)
  kCredentialsUnavailable,  // 503: STS failed, retry
  kUnavailable,             // 503: not synced yet, apiserver unreachable, busy: retry
  kNotFound,                // 404: another path
  kMethodNotAllowed,        // 405
  // The peer protocol (peer_protocol.hpp):
  kNotAPeer,  // 403: the token is not an allowed server replica's
  kNotOwner,  // 503: this replica does not own the key (membership views differ for a moment)
};

int RefusalStatus(Refusal refusal);
std::string_view RefusalCode(Refusal refusal);
// 409 and every 5xx.
bool RefusalRetryable(Refusal refusal);
// JSON {"code","message","retryable"} plus "upstreamCode" when `upstream_code` is not empty.
http::Response RefusalResponse(Refusal refusal, std::string_view message,
                               std::string_view upstream_code = {});

// The sts assumed-role ARN of `spec`'s session (arn:<partition>:sts::<account>:assumed-role/
// <role name>/<session name>, of the target role when chained), "" when its role ARN does not
// parse. What STS would answer; the AROA… role id is not known from the cache and left empty.
std::string AssumedRoleArn(const creds::CredentialSpec& spec);

// The 200 body.
http::Response CredentialsResponse(const creds::CredentialSpec& spec,
                                   const aws::Credentials& credentials);

}  // namespace podiam::server
