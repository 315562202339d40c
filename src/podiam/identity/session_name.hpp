// What podiam tells STS about the pod a session is for: the RoleSessionName, the session tags and
// the SourceIdentity, and the owner that the credential cache keeps sessions apart by. All of it is
// derived here, in one pure function, from trusted fields only (namespace, pod name and UID,
// ServiceAccount); the one pod-controlled input, kiam's `iam.amazonaws.com/session-name`
// annotation, can only add a suffix after '@' (a character no namespace, pod or ServiceAccount
// name can contain), never replace or imitate the trusted part.
//
// Session names (docs/agent.md, "Sessions"):
//   per pod (default)           <namespace>.<pod>[@<annotation>]
//   per ServiceAccount          <namespace>.sa=<serviceaccount>[@<annotation>]
// STS allows 2-64 characters of [\w+=,.@-]; anything else becomes '-', and a name that must be cut
// keeps its first 55 characters plus '-' and 8 hex digits of the SHA-256 of the whole uncut name.
// Two pods never share credentials even if their names collide after cutting: the cache key
// carries the owner (the pod's UID, or namespace and ServiceAccount), which STS never sees.
//
// Thread-safety: pure functions.
//
//   identity::SessionName("team-a", "web-7d9f8c-x2x")   // "team-a.web-7d9f8c-x2x"
//   identity::Session s = identity::DeriveSession(
//       {.namespace_name = "team-a", .pod_name = "web", .pod_uid = "u-1", .service_account =
//       "app"},
//       {.tags = true});
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/sts_client.hpp"

namespace podiam::identity {

inline constexpr std::size_t kMaxSessionName = 64;

// Whose session a pod's credentials are: its own (one AssumeRole per pod, CloudTrail names the
// pod), or shared by every pod of the same namespace, ServiceAccount and role (fewer STS calls,
// CloudTrail names the ServiceAccount). --session-scope pod|service-account.
enum class SessionScope { kPod, kServiceAccount };

std::optional<SessionScope> ParseSessionScope(std::string_view text);
std::string_view SessionScopeName(SessionScope scope);

struct SessionOptions {
  SessionScope scope = SessionScope::kPod;
  bool tags = false;             // --session-tags
  std::string cluster_name;      // --cluster-name: tag cluster-name when set (and tags are on)
  bool source_identity = false;  // --source-identity: SourceIdentity = the session name
};

struct SessionSubject {
  std::string_view namespace_name;
  std::string_view pod_name;
  std::string_view pod_uid;
  std::string_view service_account;
  std::string_view annotation;  // kiam's session-name annotation, "" when absent (untrusted)
};

struct Session {
  std::string name;             // RoleSessionName
  std::string owner;            // cache scope: "pod/<uid>" or "sa/<namespace>/<account>"
  std::vector<aws::Tag> tags;   // empty unless SessionOptions::tags
  std::string source_identity;  // "" unless SessionOptions::source_identity
};

Session DeriveSession(const SessionSubject& subject, const SessionOptions& options);

// The session tags of a session that belongs to a namespaced object other than a pod (the
// controller's AWSIAMRoles, docs/controller.md "Session tags"): kubernetes-namespace, then
// `name_key` = `name`, then cluster-name when set — the same keys and order rules as
// DeriveSession's. Empty unless options.tags.
std::vector<aws::Tag> ObjectSessionTags(std::string_view namespace_name, std::string_view name_key,
                                        std::string_view name, const SessionOptions& options);

// "<namespace>.<pod>[@<annotation>]", sanitised and cut as above.
std::string SessionName(std::string_view namespace_name, std::string_view pod_name,
                        std::string_view annotation = {});

// Sanitises any text to STS's session-name alphabet and length (2..64).
std::string SanitizeSessionName(std::string_view text);

}  // namespace podiam::identity
