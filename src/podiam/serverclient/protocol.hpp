// The agent's half of the podiam server wire protocol v1 (docs/agent.md "Server mode", the full
// protocol in docs/server.md "Agent protocol"): the POST /v1/credentials request body, the 200
// body, and the error body of every other status, mapped to podiam Errors.
//
// Status mapping (the agent's side of the protocol):
//   401 -> kUnauthenticated, 403 -> kPermissionDenied, 404 -> kNotFound, 400/other 4xx ->
//   kInvalidArgument: not retryable, and no fail-over (another replica would say the same);
//   409 (RoleMismatch) -> kConflict, retryable, no fail-over (the caches converge);
//   429, 5xx -> kUnavailable, retryable, fail over to the next URL;
//   1xx/2xx (other than 200)/3xx -> kUpstreamInvalid, retryable, fail over.
// The error's upstream_code() is the body's upstreamCode (the STS code) when present, else its
// code ("PodNotOnNode"); its message names the status, the code and the server's message
// (truncated, control characters replaced).
//
// Thread-safety: pure functions.
//
//   std::string body = serverclient::EncodeRequest(*spec.pod, spec.key.role_arn);
//   auto ok = serverclient::ParseSuccess(response.body);   // status 200
//   Error e = serverclient::ErrorFromResponse(response.status, response.body);  // others
#pragma once

#include <string>
#include <string_view>

#include "podiam/aws/sts_client.hpp"
#include "podiam/base/error.hpp"
#include "podiam/creds/credential_key.hpp"

namespace podiam::serverclient {

inline constexpr std::string_view kCredentialsPath = "/v1/credentials";

// {"namespace":…,"name":…,"uid":…,"roleArn":…}
std::string EncodeRequest(const creds::PodRef& pod, std::string_view role_arn);

struct ServerCredentials {
  std::string role_arn;
  std::string session_name;
  aws::AssumeRoleResult result;  // credentials (with expiration) and the assumed-role user
};

// A 200 body. kUpstreamInvalid (retryable) when it is not JSON, a field is missing, empty or not
// a string, or Expiration is not an RFC 3339 time. assumedRoleUser.assumedRoleId may be empty or
// absent (the server sends ""): the one optional member.
Result<ServerCredentials> ParseSuccess(std::string_view body);

// Any non-200 answer, as above. `body` may be anything (or empty).
Error ErrorFromResponse(int status, std::string_view body);

// Whether an error from ErrorFromResponse (or the transport) should move on to the next URL.
bool FailsOver(int status);

}  // namespace podiam::serverclient
