// `podiam server` (docs/server.md): the central credential server agents ask over HTTPS.
//
// Thread-safety: called once from main.
#pragma once

#include "podiam/cli/command_line.hpp"

namespace podiam::app {

int RunServer(const cli::GlobalConfig& global, const cli::ServerConfig& config);

}  // namespace podiam::app
