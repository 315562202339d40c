// `podiam controller` and `podiam credential-process` as subcommands of the command line: their
// flags (cli/controller_flags.hpp) registered on the subcommand, and the checks.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "podiam/base/error.hpp"
#include "podiam/cli/command_line.hpp"
#include "podiam/cli/compat_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddControllerCommand(CLI::App& sub,
                                                                   const GlobalLogFlags& log);
std::function<Result<SubcommandInvocation>()> AddCredentialProcessCommand(
    CLI::App& sub, const GlobalLogFlags& log);

// The groups' checks, --workers and the process command.
Result<void> CheckControllerConfig(const ControllerConfig& config);

}  // namespace podiam::cli
