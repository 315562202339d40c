// `podiam agent`'s flags: the groups it shares with other subcommands (Kubernetes, AWS, roles,
// sessions, ops) plus its own (the metadata listener, node networking, metadata paths, this
// node), then kube2iam's and kiam's flags (cli/compat_flags.hpp).
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "podiam/base/error.hpp"
#include "podiam/cli/command_line.hpp"
#include "podiam/cli/compat_flags.hpp"

namespace podiam::cli {

// Registers the agent's flags on `sub`; the returned function yields the parsed invocation once
// `sub` has been parsed.
std::function<Result<SubcommandInvocation>()> AddAgentCommand(CLI::App& sub,
                                                              const GlobalLogFlags& log);

// Every group's check, and those across groups (role chaining limits the session lifetime).
Result<void> CheckAgentConfig(const AgentConfig& config);

}  // namespace podiam::cli
