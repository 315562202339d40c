#include "podiam/cli/webhook_command.hpp"

#include <memory>

#include "podiam/cli/webhook_certs_flags.hpp"
#include "podiam/cli/webhook_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddWebhookCommand(CLI::App& sub,
                                                                const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<WebhookInvocation>();
  AddWebhookFlags(sub, invocation->config);
  auto* certs = sub.add_subcommand(
      "certs",
      "Writes a CA and a serving certificate for SERVICE.NAMESPACE.svc to --out and prints the "
      "caBundle");
  AddWebhookCertsFlags(*certs, invocation->config.certs);
  return [invocation, certs]() -> Result<SubcommandInvocation> {
    invocation->config.certs.requested = certs->parsed();
    return SubcommandInvocation(*invocation);
  };
}

}  // namespace podiam::cli
