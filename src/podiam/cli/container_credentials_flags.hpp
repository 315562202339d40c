// The flags of `podiam agent`'s container-credentials endpoint (docs/container-credentials.md),
// setting ContainerCredentialsConfig. Every flag can also be set as PODIAM_<FLAG>.
//
// Thread-safety: AddContainerCredentialsFlags is called once while parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "podiam/cli/container_credentials_config.hpp"

namespace podiam::cli {

// Adds the flags of ContainerCredentialsConfig to `agent`.
void AddContainerCredentialsFlags(CLI::App& agent, ContainerCredentialsConfig& c);

}  // namespace podiam::cli
