#include "podiam/app/run.hpp"

#include <variant>

#include "podiam/app/agent.hpp"
#include "podiam/app/controller.hpp"
#include "podiam/app/explain.hpp"
#include "podiam/app/oidc.hpp"
#include "podiam/app/server.hpp"
#include "podiam/app/webhook.hpp"
#include "podiam/app/webhook_certs.hpp"
#include "podiam/base/log.hpp"

namespace podiam::app {
namespace {

// One overload per cli::SubcommandInvocation alternative: a new subcommand adds its RunX here.
struct Dispatch {
  const cli::GlobalConfig& global;

  int operator()(const std::monostate& /*none*/) const { return 0; }
  int operator()(const cli::AgentInvocation& agent) const { return RunAgent(global, agent.config); }
  int operator()(const cli::ServerInvocation& server) const {
    return RunServer(global, server.config);
  }
  int operator()(const cli::WebhookInvocation& webhook) const {
    if (webhook.config.certs.requested) {
      return RunWebhookCerts(webhook.config.certs);
    }
    return RunWebhook(global, webhook.config);
  }
  int operator()(const cli::OidcInvocation& oidc) const { return RunOidc(global, oidc.config); }
  int operator()(const cli::IamInvocation& iam) const { return RunIam(global, iam.config); }
  int operator()(const cli::ControllerInvocation& controller) const {
    return RunController(global, controller.config);
  }
  int operator()(const cli::CredentialProcessInvocation& process) const {
    return RunCredentialProcess(global, process.config);
  }
  int operator()(const cli::ExplainInvocation& explain) const {
    return RunExplain(global, explain.config);
  }
  int operator()(const cli::PlannedInvocation& planned) const {
    log::Logger("podiam").Error("subcommand is not available in this version yet",
                                {{"command", std::string(cli::CommandName(planned.command))},
                                 {"version", std::string(cli::Version())}});
    return 1;
  }
};

}  // namespace

int Run(const cli::Invocation& invocation) {
  log::Configure(invocation.global.log);
  return std::visit(Dispatch{invocation.global}, invocation.subcommand);
}

}  // namespace podiam::app
