#include "podiam/cli/command_line.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>

namespace podiam::cli {
namespace {

constexpr std::string_view kVersion = "0.1.0";

struct SubcommandInfo {
  Command command;
  const char* name;
  const char* description;
};

constexpr std::array<SubcommandInfo, 6> kSubcommands = {{
    {Command::kAgent, "agent",
     "Node agent: serves each pod its own role's credentials on the EC2 metadata address"},
    {Command::kServer, "server",
     "Central credential server that agents ask over mTLS (kiam-style)"},
    {Command::kWebhook, "webhook",
     "Mutating admission webhook injecting web identity (IRSA) settings into pods"},
    {Command::kController, "controller",
     "Controller turning AWSIAMRole resources into Secrets with refreshed credentials"},
    {Command::kOidc, "oidc", "Serves OIDC discovery documents for self-hosted clusters"},
    {Command::kExplain, "explain", "Explains which role a pod would get and why"},
}};

// Adds an option whose value may also come from PODIAM_<FLAG>.
template <typename T>
CLI::Option* AddFlag(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

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

std::string_view CommandName(Command command) {
  for (const auto& s : kSubcommands) {
    if (s.command == command) {
      return s.name;
    }
  }
  return "";
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
  AddFlag(app, "--log-format", log_format, "Log line format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  AddFlag(app, "--log-level", log_level, "Minimum level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}))
      ->capture_default_str();

  std::vector<std::pair<CLI::App*, Command>> subs;
  subs.reserve(kSubcommands.size());
  for (const auto& s : kSubcommands) {
    subs.emplace_back(app.add_subcommand(s.name, s.description), s.command);
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend() - (args.empty() ? 0 : 1));
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    inv.stdout_text = app.help();
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

  inv.global.log.format = *log::ParseFormat(log_format);
  inv.global.log.level = *log::ParseLevel(log_level);
  for (const auto& [sub, command] : subs) {
    if (sub->parsed()) {
      inv.command = command;
    }
  }
  if (inv.command == Command::kNone) {
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

}  // namespace podiam::cli
