// StsClient: the port through which podiam asks AWS STS for credentials. The real adapter is
// HttpStsClient (http_sts_client.hpp); tests use fakes. Requests and results are plain values
// named after the STS API members (docs/protocols.md#sts-query-api).
//
// Thread-safety: implementations must allow concurrent calls.
//
//   aws::AssumeRoleRequest req{.role_arn = "arn:aws:iam::123456789012:role/app",
//                              .role_session_name = "pod-web-1", .duration_seconds = 3600};
//   Result<aws::AssumeRoleResult> r = sts.AssumeRole(req);
//   if (!r) { log.Warn("assume role failed", {{"error", r.error().ToString()}}); }
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "podiam/aws/credentials.hpp"
#include "podiam/base/error.hpp"

namespace podiam::aws {

struct Tag {
  std::string key;
  std::string value;
  friend bool operator==(const Tag&, const Tag&) = default;
};

// Optional members are left out of the request when empty / nullopt.
struct AssumeRoleRequest {
  std::string role_arn;                 // required
  std::string role_session_name;        // required; 2-64 of [\w+=,.@-]
  std::optional<int> duration_seconds;  // 900-43200 (1 h max when chaining roles)
  std::string external_id;
  std::string policy;  // inline session policy (JSON)
  std::vector<std::string> policy_arns;
  std::vector<Tag> tags;
  std::vector<std::string> transitive_tag_keys;
  std::string source_identity;
};

struct AssumeRoleWithWebIdentityRequest {
  std::string role_arn;            // required
  std::string role_session_name;   // required
  std::string web_identity_token;  // required; a secret (never logged)
  std::string provider_id;         // OAuth 2.0 providers only
  std::optional<int> duration_seconds;
  std::string policy;
  std::vector<std::string> policy_arns;
};

struct AssumedRoleUser {
  std::string assumed_role_id;  // "AROA...:session"
  std::string arn;              // "arn:aws:sts::123456789012:assumed-role/name/session"
};

struct AssumeRoleResult {
  Credentials credentials;
  AssumedRoleUser assumed_role_user;
  std::optional<int> packed_policy_size;
  std::string source_identity;
  std::string request_id;
};

struct AssumeRoleWithWebIdentityResult {
  Credentials credentials;
  AssumedRoleUser assumed_role_user;
  std::optional<int> packed_policy_size;
  std::string subject_from_web_identity_token;
  std::string provider;
  std::string audience;
  std::string source_identity;
  std::string request_id;
};

struct CallerIdentity {
  std::string user_id;
  std::string account;
  std::string arn;
  std::string request_id;
};

class StsClient {
 public:
  virtual ~StsClient() = default;

  // Errors carry the STS error code as upstream_code() and say whether a retry may help;
  // invalid parameters are caught before anything is sent (kInvalidArgument).
  virtual Result<AssumeRoleResult> AssumeRole(const AssumeRoleRequest& request) = 0;
  // The same call signed with `caller` (credentials an earlier AssumeRole returned) instead of
  // the client's own: role chaining (docs/container-credentials.md, "Role chaining").
  virtual Result<AssumeRoleResult> AssumeRoleAs(const Credentials& caller,
                                                const AssumeRoleRequest& request) = 0;
  // Sent unsigned: the token is the proof of identity.
  virtual Result<AssumeRoleWithWebIdentityResult> AssumeRoleWithWebIdentity(
      const AssumeRoleWithWebIdentityRequest& request) = 0;
  virtual Result<CallerIdentity> GetCallerIdentity() = 0;
};

}  // namespace podiam::aws
