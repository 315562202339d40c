// What one pod may have and exactly what to ask STS for: the role decision (RolePolicy) and, when
// it allows a role, the CredentialSpec built from it — role, external ID, session name, owner,
// tags, SourceIdentity and duration (DeriveSession). One pure function, so the agent's and the
// server's pod directories and `podiam explain` decide a pod the same way.
//
// A pod whose namespace is not known yet (the namespace watch lags the pod's, or its list is not
// done) is kPending while namespace restrictions are on: unknown is not "no annotations", so it is
// never denied for it.
//
// Thread-safety: pure (RolePolicy::Decide is thread-safe).
//
//   identity::PodRequest r = identity::DecidePod(
//       policy, {.namespace_name = "team-a", .pod_name = "web", .pod_uid = "u-1",
//                .service_account = "app", .pod_annotations = &pod.annotations,
//                .namespace_annotations = &ns.annotations},
//       {.session = {.tags = true}});
//   if (r.spec) { broker.Retain(*r.spec); }
#pragma once

#include <optional>
#include <string_view>

#include "podiam/creds/credential_key.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/identity/session_name.hpp"

namespace podiam::identity {

struct PodSubject {
  std::string_view namespace_name;
  std::string_view pod_name;
  std::string_view pod_uid;
  std::string_view service_account;
  const Annotations* pod_annotations = nullptr;              // null: none
  const Annotations* service_account_annotations = nullptr;  // null: none, or not known
  // Null: the namespace is not known (kPending while restrictions are on). Pass an empty map for a
  // namespace known to have no annotations.
  const Annotations* namespace_annotations = nullptr;
};

struct PodRequestOptions {
  SessionOptions session;               // --session-scope, --session-tags, --cluster-name, ...
  std::optional<int> duration_seconds;  // --session-duration
};

struct PodRequest {
  Decision decision;
  std::optional<creds::CredentialSpec> spec;  // set exactly when decision allows a role
};

// The session-name annotation read is the policy's keys().session_name (kiam's key by default).
PodRequest DecidePod(const RolePolicy& policy, const PodSubject& pod,
                     const PodRequestOptions& options);

}  // namespace podiam::identity
