// Composition roots: build the real adapters for a parsed command line and run the subcommand
// until it is told to stop. Each capability gets its own RunX() as it lands.
//
// Thread-safety: called once from main.
#pragma once

#include "podiam/cli/command_line.hpp"

namespace podiam::app {

// Runs the chosen subcommand; returns the process exit code.
int Run(const cli::Invocation& invocation);

}  // namespace podiam::app
