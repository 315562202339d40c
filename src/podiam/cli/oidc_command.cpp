#include "podiam/cli/oidc_command.hpp"

#include <memory>

#include "podiam/cli/oidc_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddOidcCommand(CLI::App& sub,
                                                             const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<OidcInvocation>();
  AddOidcFlags(sub, invocation->config);
  return [invocation, &sub]() -> Result<SubcommandInvocation> {
    if (auto usage = FinishOidcFlags(sub, invocation->config)) {
      return MakeError(ErrorCode::kInvalidArgument, *usage);
    }
    return SubcommandInvocation(*invocation);
  };
}

std::function<Result<SubcommandInvocation>()> AddIamCommand(CLI::App& sub,
                                                            const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<IamInvocation>();
  AddIamFlags(sub, invocation->config);
  return [invocation, &sub]() -> Result<SubcommandInvocation> {
    if (auto usage = FinishIamFlags(sub, invocation->config)) {
      return MakeError(ErrorCode::kInvalidArgument, *usage);
    }
    return SubcommandInvocation(*invocation);
  };
}

}  // namespace podiam::cli
