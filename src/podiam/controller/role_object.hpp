// AWSIAMRole objects (podiam.io/v1, and zalando.org/v1 for migration; docs/controller.md) as the
// controller reads them, and the pure rules that turn one into an AssumeRole request: which role
// (a name, a name with path or a full ARN in any partition), which ExternalId (the namespace, plus
// "/<cluster>" when --cluster-name is set), which RoleSessionName ("<namespace>.<name>", at most
// 64 characters, cut with a hash suffix), and which Secret name.
//
// The objects come from the apiserver, which has validated them against the CRD's schema; the
// parser still checks every field it uses, since an older CRD (or none, for zalando.org) may be
// installed, and reports the first problem as kInvalidArgument.
//
// Thread-safety: plain values and pure functions.
//
//   auto role = controller::ParseRoleObject(json);   // Result<RoleObject>
//   auto arn = controller::ResolveRoleReference(role->role_reference, base);
//   std::string id = controller::ExternalIdFor(*role, "prod-eu");   // "team-a/prod-eu"
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/aws/arn.hpp"
#include "podiam/aws/sts_client.hpp"
#include "podiam/base/error.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/resource.hpp"

namespace podiam::controller {

enum class ExternalIdPolicy { kNamespace, kNone };

struct RoleObject {
  std::string api_version;  // "podiam.io/v1" or "zalando.org/v1"
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;

  std::string role_reference;
  std::optional<int> duration_seconds;
  ExternalIdPolicy external_id_policy = ExternalIdPolicy::kNamespace;
  std::string secret_name;  // spec.secretName, else the object's name
  std::string session_policy;

  // The status as last seen, to write only what changed.
  std::string status_role_arn;
  std::string status_expiration;
  std::string status_secret_name;
  std::int64_t status_observed_generation = 0;
  std::string ready_status;  // "True", "False", "Unknown" or "" (no condition yet)
  std::string ready_reason;
  std::string ready_message;
  std::string ready_transition_time;

  // For k8s::Cache.
  [[nodiscard]] std::string Key() const { return namespace_name + "/" + name; }
  [[nodiscard]] std::size_t MemoryBytes() const;
  bool operator==(const RoleObject&) const = default;
};

// The two served kinds.
k8s::Resource PodiamRoles();   // awsiamroles.podiam.io/v1
k8s::Resource ZalandoRoles();  // awsiamroles.zalando.org/v1

Result<RoleObject> ParseRoleObject(const k8s::Json& object);

// A full role ARN ("arn:<partition>:iam::<account>:role/<path><name>") as is; a name or a
// name with a path appended to `base` (one leading '/' ignored). Without a base, names are an
// error that says --base-role-arn is needed.
Result<aws::RoleArn> ResolveRoleReference(std::string_view reference,
                                          const std::optional<aws::BaseRoleArn>& base);

// "<namespace>" or "<namespace>/<cluster_name>"; "" for ExternalIdPolicy::kNone.
std::string ExternalIdFor(const RoleObject& role, std::string_view cluster_name);

// "<namespace>.<name>", sanitised to STS's alphabet and cut to 64 characters with a hash suffix
// (identity::SessionName).
std::string SessionNameFor(const RoleObject& role);

// With --session-tags: kubernetes-namespace, kubernetes-awsiamrole (the object's name) and
// cluster-name (when set), by identity::ObjectSessionTags; empty without.
inline constexpr std::string_view kAwsIamRoleTag = "kubernetes-awsiamrole";
std::vector<aws::Tag> SessionTagsFor(const RoleObject& role, bool tags,
                                     std::string_view cluster_name);

}  // namespace podiam::controller
