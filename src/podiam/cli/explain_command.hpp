// `podiam explain` as a subcommand of the command line: its flags (cli/explain_flags.hpp)
// registered on the subcommand, and the parsed invocation or a usage error.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "podiam/base/error.hpp"
#include "podiam/cli/command_line.hpp"
#include "podiam/cli/compat_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddExplainCommand(CLI::App& sub,
                                                                const GlobalLogFlags& log);

}  // namespace podiam::cli
