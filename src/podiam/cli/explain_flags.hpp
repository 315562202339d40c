// Flags of `podiam explain policy|pod` (docs/explain.md). The role flags are the agent's own
// group (cli::RoleFlags), so a flag copied from the agent's DaemonSet means the same here.
// Syntax is checked at parse time (exit code 2, one line on stderr).
//
// Thread-safety: call from the command-line parser only.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "podiam/cli/config.hpp"

namespace podiam::cli {

struct ExplainConfig {
  std::string action;  // policy | pod | trust
  RoleFlags roles;     // --base-role-arn, --default-role, --namespace-*, --iam-role-key, ...
  std::string output = "text";  // -o text|json
  // policy
  std::string role;                          // --role NAME|ARN; "" = a pod without the annotation
  std::string namespace_name;                // --namespace
  std::optional<std::string> allowed_roles;  // --allowed-roles JSON (absent: no annotation)
  std::optional<std::string> permitted;      // --permitted REGEX (absent: no annotation)
  // pod
  KubeFlags kube;
  std::string pod;                                      // NAMESPACE/NAME
  bool container_credentials_from_annotations = true;   // the agent's flag of that name
  std::string annotation_prefix = "eks.amazonaws.com";  // the webhook's --annotation-prefix
  std::string token_audience = "sts.amazonaws.com";     // the webhook's --token-audience
  std::string cluster_name;                             // the controller's --cluster-name
  bool allow_no_external_id = false;                    // the controller's flag of that name
  // trust (explain/trust.hpp)
  std::string trust_role;  // --role ARN
  std::string trust_path;  // --path imds|irsa|container-credentials|controller
  std::string principal_arn;
  std::string issuer;
  std::string service_account;
  std::string audience = "sts.amazonaws.com";
  std::string external_id;
  bool session_tags = false;
  bool check = false;  // --check: IAM GetRole and compare
  std::string iam_endpoint;
  std::string partition = "aws";
};

void AddExplainFlags(CLI::App& explain, ExplainConfig& config);

// After parsing: the chosen action and cross-flag rules; an error message (one line, no
// "podiam:" prefix) for usage errors.
std::optional<std::string> FinishExplainFlags(CLI::App& explain, ExplainConfig& config);

}  // namespace podiam::cli
