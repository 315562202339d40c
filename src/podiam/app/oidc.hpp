// Composition roots of `podiam oidc render|serve|check` (docs/oidc.md) and `podiam iam ...`
// (docs/irsa-self-hosted.md).
//
// Thread-safety: called once from app::Run.
#pragma once

#include "podiam/cli/command_line.hpp"

namespace podiam::app {

int RunOidc(const cli::GlobalConfig& global, const cli::OidcConfig& config);
int RunIam(const cli::GlobalConfig& global, const cli::IamConfig& config);

}  // namespace podiam::app
