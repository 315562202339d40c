// The IAM Query API on the wire (docs/oidc.md §IAM), without I/O: form bodies for the calls
// `podiam iam` makes (Version 2010-05-08, lists as Name.member.N) and their XML replies parsed
// with pugixml; error replies become an Error whose upstream_code() is IAM's error code
// (EntityAlreadyExists, NoSuchEntity, MalformedPolicyDocument, AccessDenied, ...).
//
// Thread-safety: pure functions.
//
//   auto body = aws::EncodeIam("GetRole", {{"RoleName", "app"}});
//   auto role = aws::ParseIamRole(response.body, "GetRole");
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/sts_codec.hpp"
#include "podiam/base/error.hpp"

namespace podiam::aws {

inline constexpr std::string_view kIamApiVersion = "2010-05-08";

struct IamOidcProvider {
  std::string url;  // as IAM stores it: host/path without https://
  std::vector<std::string> client_ids;
  std::vector<std::string> thumbprints;
};

struct IamRole {
  std::string name;
  std::string arn;
  std::string path;
  std::string assume_role_policy;  // JSON, URL-decoded
};

// Action and Version first, then `params` in order.
std::string EncodeIam(std::string_view action, const FormParams& params);
// Appends Name.member.1 ... Name.member.N.
void AppendMembers(FormParams& params, std::string_view name, const std::vector<std::string>& v);

// Replies with status 200 (kUpstreamInvalid when not the expected shape).
Result<std::string> ParseCreateOidcProvider(std::string_view xml);              // the provider ARN
Result<std::vector<std::string>> ParseListOidcProviders(std::string_view xml);  // ARNs
Result<IamOidcProvider> ParseGetOidcProvider(std::string_view xml);
Result<IamRole> ParseIamRole(std::string_view xml, std::string_view action);  // CreateRole/GetRole
Result<std::vector<std::string>> ParseListAttachedRolePolicies(std::string_view xml);  // ARNs
// Any reply of `action` that carries no result (AttachRolePolicy, UpdateAssumeRolePolicy, ...).
Result<void> ParseIamEmpty(std::string_view xml, std::string_view action);

// A non-200 reply: "IAM <action>: <Code>: <Message>", upstream_code = Code; throttling and 5xx
// are retryable.
Error IamErrorFromResponse(std::string_view action, int status, std::string_view body);

// Percent-decoding (IAM returns policy documents URL-encoded).
std::string UrlDecode(std::string_view text);

}  // namespace podiam::aws
