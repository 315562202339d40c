#include "podiam/cli/webhook_command.hpp"

#include <memory>

#include "podiam/cli/webhook_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddWebhookCommand(CLI::App& sub,
                                                                const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<WebhookInvocation>();
  AddWebhookFlags(sub, invocation->config);
  return
      [invocation]() -> Result<SubcommandInvocation> { return SubcommandInvocation(*invocation); };
}

}  // namespace podiam::cli
