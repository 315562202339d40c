#include "podiam/app/run.hpp"

#include "podiam/app/agent.hpp"
#include "podiam/app/webhook.hpp"
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
    case cli::Command::kWebhook:
      return RunWebhook(invocation.global, invocation.webhook);
    case cli::Command::kServer:
    case cli::Command::kController:
    case cli::Command::kOidc:
    case cli::Command::kExplain:
      break;
  }
  logger.Error("subcommand is not available in this version yet",
               {{"command", std::string(cli::CommandName(invocation.command))},
                {"version", std::string(cli::Version())}});
  return 1;
}

}  // namespace podiam::app
