// `podiam server`'s flags: the groups it shares with the agent (Kubernetes, AWS, roles,
// sessions), its own (the HTTPS listener, TLS files, which agents may ask), and kiam server's
// flag names where the meaning is the same (--bind, --role-base-arn, --role-base-arn-autodetect,
// --session-refresh, --assume-role-arn, --prometheus-listen-addr); kiam's other server flags
// parse and give a warning line saying what podiam does instead.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "podiam/base/error.hpp"
#include "podiam/cli/command_line.hpp"
#include "podiam/cli/compat_flags.hpp"

namespace podiam::cli {

std::function<Result<SubcommandInvocation>()> AddServerCommand(CLI::App& sub,
                                                               const GlobalLogFlags& log);

// The groups' checks, --cert/--key given, --listen and --metrics-listen addresses, and each
// --agent-service-account is NAMESPACE:NAME.
Result<void> CheckServerConfig(const ServerConfig& config);

}  // namespace podiam::cli
