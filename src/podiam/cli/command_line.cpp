#include "podiam/cli/command_line.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <type_traits>
#include <variant>

#include "podiam/cli/agent_command.hpp"
#include "podiam/cli/build_info.hpp"
#include "podiam/cli/compat_flags.hpp"
#include "podiam/cli/controller_command.hpp"
#include "podiam/cli/explain_command.hpp"
#include "podiam/cli/flags.hpp"
#include "podiam/cli/oidc_command.hpp"
#include "podiam/cli/server_command.hpp"
#include "podiam/cli/webhook_command.hpp"

namespace podiam::cli {
namespace {

constexpr std::string_view kVersion = "0.1.0";

// Registers a subcommand's flags; the returned function yields its invocation once parsed.
// A usage error found after parsing (e.g. a flag its action does not take) is an Error.
using AddCommand = std::function<Result<SubcommandInvocation>()> (*)(CLI::App&,
                                                                     const GlobalLogFlags&);

struct SubcommandInfo {
  Command command;
  const char* name;
  const char* description;
  AddCommand add;  // nullptr: listed, not implemented yet (PlannedInvocation)
};

// One line per subcommand (docs/architecture.md, "How to add a subcommand").
const std::array<SubcommandInfo, 8> kSubcommands = {{
    {Command::kAgent, "agent",
     "Node agent: serves each pod its own role's credentials on the EC2 metadata address",
     AddAgentCommand},
    {Command::kServer, "server",
     "Central credential server: agents ask it for their pods' credentials over HTTPS",
     AddServerCommand},
    {Command::kWebhook, "webhook",
     "Mutating admission webhook injecting web identity (IRSA) settings into pods",
     AddWebhookCommand},
    {Command::kController, "controller",
     "Controller turning AWSIAMRole resources into Secrets with refreshed credentials",
     AddControllerCommand},
    {Command::kOidc, "oidc",
     "OIDC discovery for self-hosted clusters: render, serve and check the issuer's documents",
     AddOidcCommand},
    {Command::kIam, "iam",
     "IAM for IRSA: the OIDC provider, trust policies and roles for ServiceAccounts",
     AddIamCommand},
    {Command::kExplain, "explain",
     "Explains which role a pod gets through each path, and why (or why not)", AddExplainCommand},
    {Command::kCredentialProcess, "credential-process",
     "Prints an AWSIAMRole Secret's credentials.json for an SDK's credential_process",
     AddCredentialProcessCommand},
}};

// CLI11 messages can span lines; the contract is one line.
std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string_view Version() { return kVersion; }

Command Invocation::command() const {
  return std::visit(
      [](const auto& sub) {
        using T = std::decay_t<decltype(sub)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return Command::kNone;
        } else if constexpr (std::is_same_v<T, PlannedInvocation>) {
          return sub.command;
        } else {
          return T::kCommand;
        }
      },
      subcommand);
}

std::string_view CommandName(Command command) {
  for (const auto& s : kSubcommands) {
    if (s.command == command) {
      return s.name;
    }
  }
  return "";
}

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    long long value = 0;
    std::size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      if (value > 100000000) {
        return std::nullopt;
      }
      value = value * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) {
      return std::nullopt;
    }
    switch (text[i]) {
      case 'h':
        total += value * 3600;
        break;
      case 'm':
        total += value * 60;
        break;
      case 's':
        total += value;
        break;
      default:
        return std::nullopt;
    }
    ++i;
  }
  return std::chrono::seconds(total);
}

std::string EnvNameForFlag(std::string_view long_flag) {
  while (!long_flag.empty() && long_flag.front() == '-') {
    long_flag.remove_prefix(1);
  }
  std::string env = "PODIAM_";
  for (char c : long_flag) {
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

Invocation ParseCommandLine(const std::vector<std::string>& args) {
  Invocation inv;
  CLI::App app{
      "podiam gives every Kubernetes pod its own AWS IAM role credentials through the paths AWS "
      "SDKs already use. Every flag can also be set as PODIAM_<FLAG> in the environment.",
      "podiam"};
  app.set_version_flag("--version", std::string("podiam ") + std::string(kVersion));
  app.require_subcommand(0, 1);
  app.fallthrough();

  std::string log_format = "text";
  std::string log_level = "info";
  auto* log_format_option =
      AddFlag(app, "--log-format", log_format, "Log line format: text or json")
          ->transform(CLI::IsMember({"text", "json"}, CLI::ignore_case))
          ->capture_default_str();
  auto* log_level_option =
      AddFlag(app, "--log-level", log_level,
              "Minimum level: trace, debug, info, warn, error, off (kube2iam's panic and fatal "
              "mean error)")
          ->transform(CLI::IsMember(
              {"trace", "debug", "info", "warn", "warning", "error", "off", "panic", "fatal"},
              CLI::ignore_case))
          ->capture_default_str();
  const GlobalLogFlags log_flags{.level = &log_level,
                                 .format = &log_format,
                                 .level_option = log_level_option,
                                 .format_option = log_format_option};

  struct Registered {
    CLI::App* app;
    Command command;
    std::function<Result<SubcommandInvocation>()> take;
  };
  std::vector<Registered> subs;
  subs.reserve(kSubcommands.size());
  for (const auto& s : kSubcommands) {
    auto* sub = app.add_subcommand(s.name, s.description);
    subs.push_back({sub, s.command, s.add != nullptr ? s.add(*sub, log_flags) : nullptr});
  }
  // After the subcommands: they would inherit it.
  app.footer("`podiam version` prints the version, commit and build details.");
  // Help of the subcommand that asked for it, else of podiam.
  auto help_text = [&app, &subs]() {
    for (const auto& sub : subs) {
      if (sub.app->parsed()) {
        for (auto* nested : sub.app->get_subcommands({})) {  // podiam oidc render --help
          if (nested->parsed()) {
            return nested->help();
          }
        }
        return sub.app->help();
      }
    }
    return app.help();
  };

  // kube2iam's chart passes its flags with no subcommand (its image's entrypoint is kube2iam): a
  // command line that starts with a flag and names no subcommand is `podiam agent`.
  std::vector<std::string> given = args;
  if (given.size() == 2 && given[1] == "version") {  // podiam version: build information
    inv.stdout_text = BuildInfo();
    inv.exit_code = 0;
    return inv;
  }
  auto names_a_subcommand =
      std::any_of(given.begin() + (given.empty() ? 0 : 1), given.end(), [](const std::string& a) {
        return std::any_of(kSubcommands.begin(), kSubcommands.end(),
                           [&a](const SubcommandInfo& s) { return a == s.name; });
      });
  if (given.size() > 1 && given[1].starts_with("-") && !names_a_subcommand &&
      given[1] != "--help" && given[1] != "-h" && given[1] != "--help-all" &&
      given[1] != "--version") {
    given.insert(given.begin() + 1, "agent");
  }
  std::vector<std::string> reversed(given.rbegin(), given.rend() - (given.empty() ? 0 : 1));
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    inv.stdout_text = help_text();
    inv.exit_code = 0;
    return inv;
  } catch (const CLI::CallForAllHelp&) {
    inv.stdout_text = app.help("", CLI::AppFormatMode::All);
    inv.exit_code = 0;
    return inv;
  } catch (const CLI::CallForVersion& e) {
    inv.stdout_text = std::string(e.what()) + "\n";
    inv.exit_code = 0;
    return inv;
  } catch (const CLI::ParseError& e) {
    inv.stderr_text = "podiam: " + OneLine(e.what()) + " (see podiam --help)\n";
    inv.exit_code = kExitUsage;
    return inv;
  }

  TranslateLegacyLogLevel(log_level);
  inv.global.log.format = *log::ParseFormat(log_format);
  inv.global.log.level = *log::ParseLevel(log_level);
  for (const auto& sub : subs) {
    if (sub.app->parsed()) {
      if (!sub.take) {
        inv.subcommand = PlannedInvocation{sub.command};
        continue;
      }
      auto taken = sub.take();
      if (!taken) {
        inv.stderr_text = "podiam: " + OneLine(taken.error().message()) + " (see podiam " +
                          sub.app->get_name() + " --help)\n";
        inv.exit_code = kExitUsage;
        return inv;
      }
      inv.subcommand = std::move(*taken);
    }
  }
  if (std::holds_alternative<std::monostate>(inv.subcommand)) {
    inv.stdout_text = app.help();
    inv.exit_code = 0;
  }
  return inv;
}

Invocation ParseCommandLine(int argc, const char* const* argv) {
  std::vector<std::string> args;
  args.reserve(static_cast<std::size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    args.emplace_back(argv[i]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  }
  return ParseCommandLine(args);
}

Result<void> CheckInvocation(const Invocation& invocation) {
  if (const auto* agent = std::get_if<AgentInvocation>(&invocation.subcommand)) {
    return CheckAgentConfig(agent->config);
  }
  if (const auto* server = std::get_if<ServerInvocation>(&invocation.subcommand)) {
    return CheckServerConfig(server->config);
  }
  if (const auto* controller = std::get_if<ControllerInvocation>(&invocation.subcommand)) {
    return CheckControllerConfig(controller->config);
  }
  return {};
}

Invocation ParseAndCheck(const std::vector<std::string>& args) {
  Invocation inv = ParseCommandLine(args);
  if (!inv.exit_code) {
    if (auto ok = CheckInvocation(inv); !ok) {
      inv.stderr_text = "podiam: " + OneLine(ok.error().message()) + "\n";
      inv.exit_code = kExitUsage;
    }
  }
  return inv;
}

Invocation ParseAndCheck(int argc, const char* const* argv) {
  std::vector<std::string> args;
  args.reserve(static_cast<std::size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    args.emplace_back(argv[i]);  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
  }
  return ParseAndCheck(args);
}

}  // namespace podiam::cli
