// The configuration of `podiam controller` and `podiam credential-process` (docs/controller.md):
// the controller takes the shared Kubernetes, AWS, role, session and ops groups plus its own
// flags; credential-process (what the Secret's credentials.process runs) takes --file.
// Registered by cli/controller_command.cpp.
//
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <string>

#include "podiam/cli/config.hpp"

namespace podiam::cli {

struct ControllerConfig {
  KubeFlags kube;
  AwsFlags aws;
  RoleFlags roles;        // --base-role-arn and the namespace policy (the agent's rules)
  SessionFlags sessions;  // --session-duration, --refresh-before, --cluster-name
  OpsFlags ops{.metrics_listen = "0.0.0.0:9623"};
  int workers = 4;  // --workers
  std::string credential_process_command = "podiam credential-process";
  bool zalando_awsiamroles = false;   // --zalando-awsiamroles
  bool allow_no_external_id = false;  // --allow-no-external-id
  std::chrono::seconds resync{600};   // --resync
  std::string namespace_name;         // --namespace: watch one namespace only ("" = all)
  bool leader_elect = true;  // --leader-elect: one active replica (a coordination.k8s.io Lease)
  // --leader-election-namespace; "" = $POD_NAMESPACE, else kube-system.
  std::string leader_election_namespace;
  std::string leader_election_id = "podiam-controller";  // --leader-election-id: the Lease
};

struct CredentialProcessConfig {
  // --file; relative paths (and the default, credentials.json) are resolved against the
  // directory of $AWS_CONFIG_FILE, else of $AWS_SHARED_CREDENTIALS_FILE.
  std::string file = "credentials.json";
};

}  // namespace podiam::cli
