// What the credential cache is keyed by: everything that goes into the AssumeRole request (role,
// external ID, session name, session policy, tags, SourceIdentity, duration) plus the owner the
// session belongs to (a pod's UID, or a namespace and ServiceAccount with --session-scope
// service-account), which STS never sees. Two callers get the same cached credentials exactly when
// every one of those is equal: nothing a pod controls can make it share another pod's entry, and
// nothing about an entry (its tags, its SourceIdentity) is ever rewritten by another caller.
//
// Thread-safety: plain values.
//
//   creds::CredentialSpec spec{
//       .key = {.role_arn = "arn:aws:iam::123456789012:role/app",
//               .session_name = identity::SessionName("team-a", "web-7d9f8c-x2x"),
//               .owner = "pod/0b3c...",
//               .tags = {{.key = "kubernetes-namespace", .value = "team-a"}}}};
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
  // Role chaining (docs/container-credentials.md, "Role chaining"): when set, role_arn is
  // assumed first (session name, tags, SourceIdentity) and its credentials then assume this role
  // (same session name and tags, plus the external ID and session policy, at most 1 h).
  std::string target_role_arn;
  std::string external_id;     // "" when the pod has none; treat as sensitive, never logged
  std::string session_name;    // STS RoleSessionName (identity::SessionName)
  std::string session_policy;  // inline session policy JSON, "" for none; never logged
  std::string owner;           // identity::Session::owner; never sent to STS
  std::vector<aws::Tag> tags;
  std::string source_identity;  // "" to leave out
  // nullopt: the broker's Options::duration_seconds.
  std::optional<int> duration_seconds;

  friend bool operator==(const CredentialKey&, const CredentialKey&) = default;
  // For ordered containers and sorted /debug output. (Not a defaulted <=>: clang-tidy 14
  // misreports the synthesized comparison with 0 as modernize-use-nullptr.)
  friend bool operator<(const CredentialKey& a, const CredentialKey& b);
};

struct CredentialKeyHash {
  std::size_t operator()(const CredentialKey& key) const noexcept;
};

// The pod a spec is fetched for, for sources that must name it (the podiam server source,
// docs/agent.md "Server mode"). Not part of the key: pods sharing a key (--session-scope
// service-account) share one entry, fetched for whichever of them retained it last.
struct PodRef {
  std::string namespace_name;
  std::string name;
  std::string uid;
};

// What the broker needs to fetch an entry: its key, and (not part of the key) the pod it is for,
// set by the callers that build specs for a pod; STS does not need it.
struct CredentialSpec {
  CredentialKey key;
  std::optional<PodRef> pod;
};

// The AssumeRole request for `spec`; `default_duration_seconds` applies when the spec has none.
// With a target role: the first of the two calls (for role_arn; no external ID or session policy,
// which belong to the target; kChainFirstHopSeconds, since it only signs the second call).
aws::AssumeRoleRequest ToAssumeRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds);
// The second call of a chained spec: the target role, at most kMaxChainedSeconds (STS).
aws::AssumeRoleRequest ToTargetRoleRequest(const CredentialSpec& spec,
                                           int default_duration_seconds);

inline constexpr int kChainFirstHopSeconds = 900;  // STS minimum
inline constexpr int kMaxChainedSeconds = 3600;    // STS hard cap for role chaining

// Makes the STS call(s) for `spec`: one AssumeRole, or with a target role, AssumeRole for
// role_arn and then AssumeRoleAs(those credentials) for the target. A failed hop's error keeps
// its STS code and says which hop failed.
Result<aws::AssumeRoleResult> AssumeRoleFor(aws::StsClient& sts, const CredentialSpec& spec,
                                            int default_duration_seconds);

}  // namespace podiam::creds

template <>
struct std::hash<podiam::creds::CredentialKey> : podiam::creds::CredentialKeyHash {};
