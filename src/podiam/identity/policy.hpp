// What may a pod have? Decides, from annotations alone, which IAM role a pod asks for and whether
// its namespace lets it have that role — with kube2iam's and kiam's exact annotation semantics
// (docs/compatibility.md#namespace-restrictions) and podiam's stricter defaults. Pure: no I/O, no
// clock.
//
//   Role:      pod annotation iam.amazonaws.com/role, else the same annotation on the pod's
//              ServiceAccount, else --default-role, else no role. Values starting with "arn:" are
//              used as is; bare names (with optional path) are appended to --base-role-arn.
//   Namespace: kube2iam's iam.amazonaws.com/allowed-roles (JSON list of globs or, with
//              --namespace-restriction-format=regexp, regular expressions anchored by podiam) and
//              kiam's iam.amazonaws.com/permitted (one anchored regular expression). A role is
//              allowed if any present dialect allows it; with restrictions on (the default) a
//              namespace with neither annotation allows nothing. The default role is always
//              allowed.
//
// Regular expressions use RE2 (the syntax kiam's Go regexp uses), so matching is linear-time and
// a hostile annotation cannot hang or crash the agent.
//
// Thread-safety: Decide() is safe from any thread (compiled patterns are cached under a mutex).
//
//   identity::RolePolicy policy({.base = base_arn, .default_role = ""});
//   identity::Decision d = policy.Decide({.namespace_name = "team-a", .pod_name = "web-1",
//                                         .pod_annotations = &pod.annotations,
//                                         .namespace_annotations = &ns.annotations});
//   if (d.outcome == identity::Outcome::kAllowed) { use(d.role->ToString()); }
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/arn.hpp"
#include "podiam/base/error.hpp"
#include "podiam/identity/annotations.hpp"

namespace re2 {
class RE2;
}  // namespace re2

namespace podiam::identity {

using Annotations = std::map<std::string, std::string, std::less<>>;

// The annotation names in use: identity/annotations.hpp's, unless renamed by flags.
struct AnnotationKeys {
  std::string role{annotations::kRole};                   // --iam-role-key
  std::string external_id{annotations::kExternalId};      // --iam-external-id
  std::string allowed_roles{annotations::kAllowedRoles};  // --namespace-key (kube2iam)
  std::string permitted{annotations::kPermitted};         // kiam
  std::string session_name{annotations::kSessionName};    // kiam
};

enum class RestrictionFormat { kGlob, kRegexp };

std::optional<RestrictionFormat> ParseRestrictionFormat(std::string_view text);

struct PolicyOptions {
  std::optional<aws::BaseRoleArn> base;  // --base-role-arn (or auto-discovered)
  std::string default_role;              // --default-role, resolved like an annotation; "" = none
  bool namespace_restrictions = true;    // --namespace-restrictions
  RestrictionFormat format = RestrictionFormat::kGlob;  // --namespace-restriction-format
  AnnotationKeys keys;
};

// The caller, as the Kubernetes read model knows it. Null annotation pointers mean "none".
struct Subject {
  std::string namespace_name;
  std::string pod_name;
  std::string service_account;
  const Annotations* pod_annotations = nullptr;
  const Annotations* service_account_annotations = nullptr;
  const Annotations* namespace_annotations = nullptr;
};

enum class Outcome {
  kAllowed,  // role set; serve it
  kNoRole,   // nothing asked for and no default: serve no credentials
  kDenied,   // namespace policy refuses the role
  kInvalid,  // an annotation is malformed (bad ARN, bare name without a base ARN)
  kPending,  // not decidable yet (the pod's namespace is not known): answer "retry", never deny
};

enum class RoleSource { kNone, kPod, kServiceAccount, kDefault };

std::string_view OutcomeName(Outcome outcome);
std::string_view RoleSourceName(RoleSource source);

struct Decision {
  Outcome outcome = Outcome::kNoRole;
  std::optional<aws::RoleArn> role;  // set for kAllowed and kDenied
  RoleSource source = RoleSource::kNone;
  std::string external_id;  // from the pod annotation, "" when absent
  // Which rule decided and why, for logs, Events and `podiam explain`. Never contains secrets.
  std::string reason;
};

class RolePolicy {
 public:
  explicit RolePolicy(PolicyOptions options);
  ~RolePolicy();
  RolePolicy(const RolePolicy&) = delete;
  RolePolicy& operator=(const RolePolicy&) = delete;

  [[nodiscard]] Decision Decide(const Subject& subject) const;

  // Namespace policy alone: may a pod in a namespace with these annotations have `role`?
  // `reason` (optional) receives the explanation.
  [[nodiscard]] bool NamespaceAllows(const aws::RoleArn& role,
                                     const Annotations* namespace_annotations,
                                     std::string* reason) const;

  [[nodiscard]] const PolicyOptions& options() const { return options_; }

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> CompileAllowedRoles(const std::string& value) const;
  std::shared_ptr<const Compiled> CompilePermitted(const std::string& value) const;

  PolicyOptions options_;
  std::optional<aws::RoleArn> default_role_;
  std::string default_role_error_;
  mutable std::mutex mu_;
  // Compiled namespace annotations by (dialect + value); bounded, cleared when full.
  mutable std::map<std::string, std::shared_ptr<const Compiled>, std::less<>> cache_;
};

}  // namespace podiam::identity
