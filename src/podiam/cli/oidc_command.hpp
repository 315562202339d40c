// `podiam oidc` and `podiam iam` as subcommands of the command line: their flags
// (cli/oidc_flags.hpp) registered on the subcommand, and the parsed invocation or a usage error.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "podiam/base/error.hpp"
#include "podiam/cli/command_line.hpp"
#include "podiam/cli/compat_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddOidcCommand(CLI::App& sub,
                                                             const GlobalLogFlags& log);
std::function<Result<SubcommandInvocation>()> AddIamCommand(CLI::App& sub,
                                                            const GlobalLogFlags& log);

}  // namespace podiam::cli
