#include "podiam/cli/controller_command.hpp"

#include <memory>

#include "podiam/cli/flag_groups.hpp"
#include "podiam/cli/flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddControllerCommand(CLI::App& sub,
                                                                   const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<ControllerInvocation>();
  ControllerConfig& c = invocation->config;
  AddKubeFlags(sub, c.kube);
  AddOpsFlags(sub, c.ops);
  AddRoleFlags(sub, c.roles);
  AddAwsFlags(sub, c.aws);
  AddSessionFlags(sub, c.sessions);
  const char* group = "Controller";
  AddFlag(sub, "--workers", c.workers, "AWSIAMRoles reconciled in parallel")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group(group);
  AddFlag(sub, "--credential-process-command", c.credential_process_command,
          "The credential_process line written into each Secret's credentials.process")
      ->capture_default_str()
      ->group(group);
  AddBool(sub, "--zalando-awsiamroles", c.zalando_awsiamroles,
          "Also reconcile kube-aws-iam-controller's AWSIAMRoles (zalando.org/v1)")
      ->group(group);
  AddBool(sub, "--allow-no-external-id", c.allow_no_external_id,
          "Honour spec.externalIdPolicy: None (no sts:ExternalId; weaker isolation)")
      ->group(group);
  AddDuration(sub, "--resync", c.resync,
              "Look at every AWSIAMRole again at least this often (default 10m)")
      ->group(group);
  AddFlag(sub, "--namespace", c.namespace_name,
          "Watch AWSIAMRoles in this namespace only (default: all)")
      ->group(group);
  AddBool(sub, "--leader-elect", c.leader_elect,
          "Act only while holding the Lease, so that 2+ replicas have one active")
      ->group(group);
  AddFlag(sub, "--leader-election-namespace", c.leader_election_namespace,
          "Namespace of the Lease (default $POD_NAMESPACE, else kube-system)")
      ->group(group);
  AddFlag(sub, "--leader-election-id", c.leader_election_id, "Name of the Lease")
      ->capture_default_str()
      ->group(group);
  return
      [invocation]() -> Result<SubcommandInvocation> { return SubcommandInvocation(*invocation); };
}

std::function<Result<SubcommandInvocation>()> AddCredentialProcessCommand(
    CLI::App& sub, const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<CredentialProcessInvocation>();
  AddFlag(sub, "--file", invocation->config.file,
          "credentials.json to print; relative to the directory of $AWS_CONFIG_FILE (else of "
          "$AWS_SHARED_CREDENTIALS_FILE)")
      ->capture_default_str();
  return
      [invocation]() -> Result<SubcommandInvocation> { return SubcommandInvocation(*invocation); };
}

Result<void> CheckControllerConfig(const ControllerConfig& c) {
  for (auto check : {CheckOpsFlags(c.ops),
                     CheckSessionFlags(c.sessions, /*role_chaining=*/!c.aws.assume_role.empty()),
                     CheckRoleFlags(c.roles), CheckAwsFlags(c.aws)}) {
    if (!check) {
      return check;
    }
  }
  if (c.credential_process_command.empty() ||
      c.credential_process_command.find('\n') != std::string::npos) {
    return tl::unexpected(Error(ErrorCode::kInvalidArgument,
                                "--credential-process-command must be one non-empty line"));
  }
  if (c.resync < std::chrono::seconds(10)) {
    return tl::unexpected(Error(ErrorCode::kInvalidArgument, "--resync must be at least 10s"));
  }
  return {};
}

}  // namespace podiam::cli
