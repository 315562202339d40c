#include "podiam/cli/explain_command.hpp"

#include <memory>

#include "podiam/cli/explain_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddExplainCommand(CLI::App& sub,
                                                                const GlobalLogFlags& /*log*/) {
  auto invocation = std::make_shared<ExplainInvocation>();
  AddExplainFlags(sub, invocation->config);
  return [invocation, &sub]() -> Result<SubcommandInvocation> {
    if (auto usage = FinishExplainFlags(sub, invocation->config)) {
      return MakeError(ErrorCode::kInvalidArgument, *usage);
    }
    return SubcommandInvocation(*invocation);
  };
}

}  // namespace podiam::cli
