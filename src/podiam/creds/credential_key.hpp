// What the credential cache is keyed by, and what an AssumeRole request needs on top of the key.
//
// Two pods get the same cached credentials exactly when they ask for the same role, external ID,
// session name and inline session policy: those four decide what the credentials can do and how
// CloudTrail names them. Session tags, SourceIdentity and the duration are derived
// deterministically from the same pod, so they ride along in CredentialSpec but are not part of
// the key (two pods that differ only there would be a bug upstream, not two cache entries).
//
// Thread-safety: plain values.
//
//   creds::CredentialSpec spec{
//       .key = {.role_arn = "arn:aws:iam::123456789012:role/app",
//               .session_name = identity::SessionName("team-a", "web-7d9f8c-x2x")},
//       .tags = {{.key = "kubernetes-namespace", .value = "team-a"}}};
//   std::unordered_map<creds::CredentialKey, int, creds::CredentialKeyHash> seen;
//   aws::AssumeRoleRequest request = creds::ToAssumeRoleRequest(spec, 3600);
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "podiam/aws/sts_client.hpp"

namespace podiam::creds {

struct CredentialKey {
  std::string role_arn;
  std::string external_id;     // "" when the pod has none; treat as sensitive, never logged
  std::string session_name;    // STS RoleSessionName (identity::SessionName)
  std::string session_policy;  // inline session policy JSON, "" for none; never logged

  friend bool operator==(const CredentialKey&, const CredentialKey&) = default;
  // For ordered containers and sorted /debug output. (Not a defaulted <=>: clang-tidy 14
  // misreports the synthesized comparison with 0 as modernize-use-nullptr.)
  friend bool operator<(const CredentialKey& a, const CredentialKey& b) {
    return std::tie(a.role_arn, a.external_id, a.session_name, a.session_policy) <
           std::tie(b.role_arn, b.external_id, b.session_name, b.session_policy);
  }
};

struct CredentialKeyHash {
  std::size_t operator()(const CredentialKey& key) const noexcept;
};

struct CredentialSpec {
  CredentialKey key;
  std::vector<aws::Tag> tags;
  std::string source_identity;  // "" to leave out
  // nullopt: the broker's Options::duration_seconds.
  std::optional<int> duration_seconds;
};

// The AssumeRole request for `spec`; `default_duration_seconds` applies when the spec has none.
aws::AssumeRoleRequest ToAssumeRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds);

}  // namespace podiam::creds

template <>
struct std::hash<podiam::creds::CredentialKey> : podiam::creds::CredentialKeyHash {};
