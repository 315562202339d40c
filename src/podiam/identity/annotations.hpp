// The annotations podiam reads to decide a pod's role, with kube2iam's and kiam's names. Defined
// once here; the flags that rename some of them (--iam-role-key, --iam-external-id,
// --namespace-key) take these as their defaults, and the Kubernetes caches keep exactly the keys
// identity::AnnotationKeys names.
#pragma once

#include <string_view>

namespace podiam::identity::annotations {

// Pod or ServiceAccount: the role to assume (kube2iam, kiam). --iam-role-key.
inline constexpr std::string_view kRole = "iam.amazonaws.com/role";
// Pod: the STS ExternalId (kube2iam). --iam-external-id.
inline constexpr std::string_view kExternalId = "iam.amazonaws.com/external-id";
// Namespace: JSON list of roles its pods may have (kube2iam). --namespace-key.
inline constexpr std::string_view kAllowedRoles = "iam.amazonaws.com/allowed-roles";
// Namespace: regular expression of roles its pods may have (kiam).
inline constexpr std::string_view kPermitted = "iam.amazonaws.com/permitted";
// Pod: a suffix for the STS session name (kiam); untrusted (identity/session_name.hpp).
inline constexpr std::string_view kSessionName = "iam.amazonaws.com/session-name";

}  // namespace podiam::identity::annotations
