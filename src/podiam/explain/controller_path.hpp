// `podiam explain pod`'s controller path (docs/explain.md): does an AWSIAMRole of the pod's
// namespace (podiam.io/v1 or zalando.org/v1) have its Secret mounted by the pod, which role does
// it name, may the controller get it for this namespace, did the controller make it Ready, and do
// the pod's AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE point at the mounted files.
//
// The role and the namespace-policy verdict are controller::DecideRole's — the function each
// reconcile of `podiam controller` calls — on the same object and namespace annotations; the
// object is read with controller::ParseRoleObject. What the controller did is read from the
// object's status, never guessed.
//
// Thread-safety: pure.
//
//   PathExplanation p = explain::ExplainControllerPath(policy, facts, {.cluster_name = "prod"});
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "podiam/explain/explanation.hpp"
#include "podiam/explain/pod.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/kube_api.hpp"

namespace podiam::explain {

// Where a pod gets one Secret: a volume (secret or projected) mounted by a container, or
// environment variables (envFrom / secretKeyRef), which SDKs do not read credentials files from.
struct SecretUse {
  std::string container;
  std::string volume;      // "" for environment variables
  std::string mount_path;  // the volumeMount's mountPath; "" for environment variables
  // The container's path of each of the Secret's keys that the mount projects (items honoured;
  // with subPath only that one key).
  std::vector<std::pair<std::string, std::string>> files;        // key -> absolute path
  [[nodiscard]] std::string FileOf(std::string_view key) const;  // "" when not projected
};

// Every use of Secret `secret_name` by the pod's containers (init containers included).
std::vector<SecretUse> FindSecretUses(const k8s::Json& pod, std::string_view secret_name);

PathExplanation ExplainControllerPath(const identity::RolePolicy& policy, const PodFacts& facts,
                                      const ControllerSettings& settings);

}  // namespace podiam::explain
