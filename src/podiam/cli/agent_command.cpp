#include "podiam/cli/agent_command.hpp"

#include <memory>

#include "podiam/cli/container_credentials_flags.hpp"
#include "podiam/cli/flag_groups.hpp"
#include "podiam/cli/server_flags.hpp"
#include "podiam/cli/vault_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddAgentCommand(CLI::App& sub,
                                                              const GlobalLogFlags& log) {
  auto invocation = std::make_shared<AgentInvocation>();
  AgentConfig& c = invocation->config;
  AddKubeFlags(sub, c.kube);
  AddNodeFlags(sub, c.node);
  AddListenerFlags(sub, c.listener);
  AddOpsFlags(sub, c.ops);
  AddRoleFlags(sub, c.roles);
  AddAwsFlags(sub, c.aws);
  AddSessionFlags(sub, c.sessions);
  AddHostnetFlags(sub, c.hostnet);
  AddImdsFlags(sub, c.imds);
  AddContainerCredentialsFlags(sub, c.container_credentials);
  AddServerFlags(sub, c);
  AddVaultFlags(sub, c.vault);
  AddCompatFlags(sub, c, log);  // kube2iam's and kiam's flags; keep last
  return
      [invocation]() -> Result<SubcommandInvocation> { return SubcommandInvocation(*invocation); };
}

Result<void> CheckAgentConfig(const AgentConfig& c) {
  for (auto check : {CheckListenerFlags(c.listener), CheckOpsFlags(c.ops),
                     CheckSessionFlags(c.sessions, /*role_chaining=*/!c.aws.assume_role.empty()),
                     CheckRoleFlags(c.roles), CheckAwsFlags(c.aws), CheckServerFlags(c.server),
                     CheckVaultFlags(c.vault)}) {
    if (!check) {
      return check;
    }
  }
  if (c.server.enabled() && c.vault.credential_source == "vault") {
    return tl::unexpected(
        Error{ErrorCode::kInvalidArgument,
              "--server and --credential-source vault exclude each other: in server mode the "
              "podiam server is the agent's only credential source (docs/server.md)"});
  }
  return {};
}

}  // namespace podiam::cli
