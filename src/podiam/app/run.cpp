#include "podiam/app/run.hpp"

#include "podiam/app/agent.hpp"
#include "podiam/app/oidc.hpp"
#include "podiam/base/log.hpp"

namespace podiam::app {

int Run(const cli::Invocation& invocation) {
  log::Configure(invocation.global.log);
  log::Logger logger("podiam");
  switch (invocation.command) {
    case cli::Command::kNone:
      return 0;
    case cli::Command::kAgent:
      return RunAgent(invocation.global, invocation.agent);
    case cli::Command::kOidc:
      return RunOidc(invocation.global, invocation.oidc);
    case cli::Command::kIam:
      return RunIam(invocation.global, invocation.iam);
    case cli::Command::kServer:
    case cli::Command::kWebhook:
    case cli::Command::kController:
    case cli::Command::kExplain:
      break;
  }
  logger.Error("subcommand is not available in this version yet",
               {{"command", std::string(cli::CommandName(invocation.command))},
                {"version", std::string(cli::Version())}});
  return 1;
}

}  // namespace podiam::app
