// `podiam explain pod`: for one pod, as read from the apiserver, what each podiam path decides —
//
//   imds                   the agent's IMDS path: may the pod own an address at all
//                          (k8s::PodCache::OwnsIps: not hostNetwork, not finished), does it have
//                          one, then identity::DecidePod (explain/policy.hpp shows the steps);
//   container-credentials  agent::AssociationRoles::Decide, the agent's resolver itself, over
//                          caches holding just this pod's namespace, ServiceAccount and
//                          associations; and whether the webhook injected the token and URI
//                          (webhook::Mutate would change nothing);
//   irsa                   the ServiceAccount's role-arn annotation as the webhook reads it
//                          (webhook::ReadServiceAccount) and whether the pod was mutated
//                          (webhook::Mutate on the stored pod would change nothing);
//   controller             an AWSIAMRole whose Secret the pod mounts, controller::DecideRole on
//                          it (the controller's own reconcile step), its status, and the SDK's
//                          environment (explain/controller_path.hpp).
//
// Every verdict is the running component's own decision function on these inputs; nothing here
// re-implements a rule. Whether IAM's trust policy then lets STS issue the credentials is not
// decided here.
//
// Thread-safety: call from one thread (it builds its own caches and resolver).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "podiam/base/random.hpp"
#include "podiam/explain/explanation.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/webhook/mutation.hpp"

namespace podiam::explain {

// What was read from the apiserver.
struct PodFacts {
  k8s::Json pod;
  std::optional<k8s::Json> service_account;   // nullopt: it does not exist
  std::optional<k8s::Json> namespace_object;  // nullopt: not readable
  std::vector<k8s::Json> associations;        // PodIdentityAssociations of the pod's namespace
  std::string associations_error;             // set when they could not be listed
  std::vector<k8s::Json>
      awsiamroles;                // AWSIAMRoles (podiam.io/v1, zalando.org/v1) of the namespace
  std::string awsiamroles_error;  // set when they could not be listed (or no CRD)
};

// The controller's flags that change its decision.
struct ControllerSettings {
  std::string cluster_name;           // --cluster-name: part of the ExternalId
  bool allow_no_external_id = false;  // --allow-no-external-id
};

struct PodSettings {
  bool container_credentials_from_annotations = true;  // the agent's flag
  webhook::MutationSettings webhook;                   // the webhook's flags
  ControllerSettings controller;                       // the controller's flags
};

// kInvalidArgument when `facts.pod` is not a Pod (no metadata.name/namespace).
Result<Explanation> ExplainPod(const identity::RolePolicy& policy, const PodFacts& facts,
                               const PodSettings& settings, Random& random);

}  // namespace podiam::explain
