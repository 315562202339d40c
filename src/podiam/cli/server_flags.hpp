// `podiam agent --server`: where the agent gets pods' credentials from a podiam server instead of
// STS (docs/agent.md "Server mode"), and kiam's agent flags with the same meaning:
//   kiam --server-address ADDR  -> --server https://ADDR (a "dns:///" prefix dropped)
//   kiam --cert / --key / --ca  -> --server-cert / --server-key / --server-ca, when a server is
//                                  given; without one (kiam's server args) they are ignored with
//                                  a warning, as before.
// A kiam flag and the podiam flag it stands for, both given with different values, is a usage
// error. Given --server-address, a warning says that the agent now asks a podiam server there.
//
// CheckServerFlags (parse time): every URL https with no path (serverclient::ParseServerUrls),
// --server-cert and --server-key together, and no --server-* option without --server.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>

#include "podiam/base/error.hpp"
#include "podiam/cli/config.hpp"

namespace podiam::cli {

// Registers --server, --server-ca, --server-token-file, --server-cert, --server-key (group
// "podiam server") and kiam's --server-address, --cert, --key, --ca (the compatibility group).
// Call before AddCompatFlags. `config` must outlive the parse.
void AddServerFlags(CLI::App& agent, AgentConfig& config);
Result<void> CheckServerFlags(const ServerSourceFlags& flags);

}  // namespace podiam::cli
