// The IMDS path's role decision, explained: which annotation names which role, how the ARN is
// composed (base ARN, path, partition), which namespace-policy entry matched or why none did, the
// default role. The verdict and reason are those of identity::DecidePod — the function the
// agent's pod directory calls for every pod — run on the same inputs; the steps re-read the same
// inputs only to say how it got there (RolePolicy::NamespaceAllows for the policy step).
//
// Thread-safety: pure (RolePolicy is thread-safe).
//
//   identity::RolePolicy policy(options);
//   identity::Annotations ns{{"iam.amazonaws.com/allowed-roles", R"(["team/*"])"}};
//   explain::Explanation e =
//       explain::ExplainPolicy(policy, {.role = "team/app", .namespace_name = "team-a",
//                                       .namespace_annotations = &ns});
#pragma once

#include <string>

#include "podiam/explain/explanation.hpp"
#include "podiam/identity/pod_request.hpp"

namespace podiam::explain {

// `podiam explain policy`: a pod in `namespace_name` whose role annotation is `role`.
struct PolicyQuestion {
  std::string role;  // the annotation's value (name or ARN); "": no annotation (default role)
  std::string namespace_name;
  const identity::Annotations* namespace_annotations = nullptr;  // null: none
};

Explanation ExplainPolicy(const identity::RolePolicy& policy, const PolicyQuestion& question);

// One path's explanation of identity::DecidePod(policy, pod, {}), named `path`. The pod
// subject's namespace_annotations may be null (namespace not known: pending).
PathExplanation ExplainRoleDecision(const identity::RolePolicy& policy,
                                    const identity::PodSubject& pod, std::string path);

}  // namespace podiam::explain
