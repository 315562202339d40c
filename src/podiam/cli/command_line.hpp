// The podiam command line: global flags, subcommands, and the rule that every flag can also be
// set from the environment as PODIAM_<FLAG> (`--log-format` ⇔ PODIAM_LOG_FORMAT), which is how a
// DaemonSet usually configures it.
//
// Parsing never exits the process: it returns what to do, so tests can check exit codes and
// messages. Unknown or malformed flags produce exactly one line on stderr and exit code 2.
//
// Thread-safety: call once from main (reads the environment).
//
//   auto inv = cli::ParseCommandLine(argc, argv);
//   if (inv.exit_code) { std::fputs(inv.stderr_text.c_str(), stderr); return *inv.exit_code; }
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "podiam/cli/config.hpp"
#include "podiam/cli/webhook_flags.hpp"

namespace podiam::cli {

inline constexpr int kExitUsage = 2;

struct Invocation {
  Command command = Command::kNone;
  GlobalConfig global;
  AgentConfig agent;
  WebhookConfig webhook;
  // Set when the process should stop now (help, version, usage error) with this code, printing
  // stdout_text/stderr_text.
  std::optional<int> exit_code;
  std::string stdout_text;
  std::string stderr_text;
};

std::string_view Version();
std::string_view CommandName(Command command);

// Go-style durations as kube2iam takes them: "1h", "30m", "90s", "1h30m"; whole seconds.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

// PODIAM_ + upper-case flag name with dashes as underscores.
std::string EnvNameForFlag(std::string_view long_flag);

Invocation ParseCommandLine(const std::vector<std::string>& args);
Invocation ParseCommandLine(int argc, const char* const* argv);

}  // namespace podiam::cli
