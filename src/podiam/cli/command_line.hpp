// The podiam command line: global flags, subcommands, and the rule that every flag can also be
// set from the environment as PODIAM_<FLAG> (`--log-format` ⇔ PODIAM_LOG_FORMAT), which is how a
// DaemonSet usually configures it.
//
// Two steps, both before anything starts, both ending in exactly one line on stderr and exit code
// 2 on bad input:
//   - ParseCommandLine: each flag's syntax (unknown flags, malformed values, choices, ranges) and
//     the kube2iam/kiam flag translation (cli/compat_flags.hpp);
//   - CheckInvocation: what the values mean, without I/O (ARNs, URLs, addresses, the session
//     lifetime against the refresh margin; cli/flag_groups.hpp per group).
// ParseAndCheck does both, as main does. Neither exits the process: they return what to do, so
// tests can check exit codes and messages.
//
// Thread-safety: call once from main (reads the environment).
//
//   auto inv = cli::ParseAndCheck(argc, argv);
//   if (inv.exit_code) { std::fputs(inv.stderr_text.c_str(), stderr); return *inv.exit_code; }
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/cli/controller_flags.hpp"
#include "podiam/cli/explain_flags.hpp"
#include "podiam/cli/oidc_flags.hpp"
#include "podiam/cli/server_config.hpp"
#include "podiam/cli/webhook_flags.hpp"

namespace podiam::cli {

inline constexpr int kExitUsage = 2;

// One alternative per subcommand, each with the config its composition root (app/) takes. A new
// subcommand adds its alternative here, its flags in cli/<name>_command.cpp and one line in
// command_line.cpp's table (docs/architecture.md, "How to add a subcommand").
struct AgentInvocation {
  static constexpr Command kCommand = Command::kAgent;
  AgentConfig config;
};
struct ServerInvocation {
  static constexpr Command kCommand = Command::kServer;
  ServerConfig config;
};
struct WebhookInvocation {
  static constexpr Command kCommand = Command::kWebhook;
  WebhookConfig config;
};
struct OidcInvocation {
  static constexpr Command kCommand = Command::kOidc;
  OidcConfig config;
};
struct IamInvocation {
  static constexpr Command kCommand = Command::kIam;
  IamConfig config;
};
struct ControllerInvocation {
  static constexpr Command kCommand = Command::kController;
  ControllerConfig config;
};
struct CredentialProcessInvocation {
  static constexpr Command kCommand = Command::kCredentialProcess;
  CredentialProcessConfig config;
};
struct ExplainInvocation {
  static constexpr Command kCommand = Command::kExplain;
  ExplainConfig config;
};
// A subcommand listed in --help whose implementation has not landed yet.
struct PlannedInvocation {
  Command command = Command::kNone;
};
using SubcommandInvocation =
    std::variant<std::monostate, AgentInvocation, ServerInvocation, WebhookInvocation,
                 OidcInvocation, IamInvocation, ControllerInvocation, CredentialProcessInvocation,
                 ExplainInvocation, PlannedInvocation>;

struct Invocation {
  GlobalConfig global;
  SubcommandInvocation subcommand;  // monostate: no subcommand (help, version, usage error)
  // Set when the process should stop now (help, version, usage error) with this code, printing
  // stdout_text/stderr_text.
  std::optional<int> exit_code;
  std::string stdout_text;
  std::string stderr_text;

  [[nodiscard]] Command command() const;
};

std::string_view Version();
std::string_view CommandName(Command command);

// Go-style durations as kube2iam takes them: "1h", "30m", "90s", "1h30m"; whole seconds.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

// PODIAM_ + upper-case flag name with dashes as underscores.
std::string EnvNameForFlag(std::string_view long_flag);

Invocation ParseCommandLine(const std::vector<std::string>& args);
Invocation ParseCommandLine(int argc, const char* const* argv);

// The checks of every flag group the chosen subcommand uses (kInvalidArgument, one line naming
// the flag).
Result<void> CheckInvocation(const Invocation& invocation);

// ParseCommandLine, then CheckInvocation; a failed check sets exit_code 2 and one stderr line.
Invocation ParseAndCheck(int argc, const char* const* argv);
Invocation ParseAndCheck(const std::vector<std::string>& args);

}  // namespace podiam::cli
