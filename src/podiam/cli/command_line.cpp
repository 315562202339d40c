#include "podiam/cli/command_line.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>

#include "podiam/cli/compat_flags.hpp"
#include "podiam/cli/container_credentials_flags.hpp"

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

// A bool flag that also accepts "--flag=false" and PODIAM_FLAG=false.
CLI::Option* AddBool(CLI::App& app, const std::string& name, bool& target,
                     const std::string& help) {
  auto* opt = app.add_flag(name + "{true}", target, help);
  opt->envname(EnvNameForFlag(name));
  opt->default_str(target ? "true" : "false");
  return opt;
}

// A duration flag ("1h", "30m"): parsed by ParseDuration, stored in seconds.
CLI::Option* AddDuration(CLI::App& app, const std::string& name, std::chrono::seconds& target,
                         const std::string& help) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [&target, name](const std::string& value) {
        auto d = ParseDuration(value);
        if (!d) {
          throw CLI::ValidationError(name, "'" + value + "' is not a duration such as 1h or 30m");
        }
        target = *d;
      },
      help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

void AddAgentFlags(CLI::App& sub, AgentConfig& c, const GlobalLogFlags& log) {
  AddFlag(sub, "--kubeconfig", c.kubeconfig,
          "Path to a kubeconfig; default $KUBECONFIG, then in-cluster configuration");
  AddBool(sub, "--kube-insecure-skip-tls-verify", c.kube_insecure_skip_tls_verify,
          "Honour insecure-skip-tls-verify from the kubeconfig (never do this in production)");
  AddFlag(sub, "--node", c.node, "Name of this node; default $NODE_NAME");
  AddFlag(sub, "--listen", c.listen, "Address:port for pods' metadata requests")
      ->capture_default_str();
  AddFlag(sub, "--metrics-listen", c.metrics_listen, "Address:port for /metrics, /healthz, /readyz")
      ->capture_default_str();
  AddFlag(sub, "--base-role-arn", c.base_role_arn,
          "Prefix for bare role names, e.g. arn:aws:iam::123456789012:role/ (kube2iam)");
  AddBool(sub, "--auto-discover-base-arn", c.auto_discover_base_arn,
          "Take the base role ARN from the node's own IAM role (kube2iam)");
  AddFlag(sub, "--default-role", c.default_role,
          "Role for pods without an annotation; default none (no credentials)");
  AddFlag(sub, "--iam-role-key", c.iam_role_key, "Pod/ServiceAccount annotation naming the role")
      ->capture_default_str();
  AddFlag(sub, "--iam-external-id", c.iam_external_id, "Pod annotation with the STS external ID")
      ->capture_default_str();
  AddFlag(sub, "--namespace-key", c.namespace_key,
          "Namespace annotation listing allowed roles (kube2iam JSON list)")
      ->capture_default_str();
  AddBool(sub, "--namespace-restrictions", c.namespace_restrictions,
          "Enforce namespace role restrictions; a namespace without annotations allows nothing");
  AddFlag(sub, "--namespace-restriction-format", c.namespace_restriction_format,
          "How allowed-roles entries match: glob or regexp (anchored)")
      ->check(CLI::IsMember({"glob", "regexp"}))
      ->capture_default_str();
  AddFlag(
      sub, "--region", c.region,
      "AWS region for STS; default $AWS_REGION, $AWS_DEFAULT_REGION, else the node's own region "
      "(metadata service placement/region), else us-east-1");
  AddFlag(sub, "--sts-endpoint", c.sts_endpoint, "STS endpoint URL override (default: regional)");
  AddDuration(sub, "--session-duration", c.session_duration,
              "Lifetime of the credentials podiam requests (default 1h)");
  AddDuration(sub, "--refresh-before", c.refresh_before,
              "Refresh credentials this long before they expire (default 30m)");
  AddFlag(sub, "--cluster-name", c.cluster_name, "Cluster name for the cluster-name session tag");
  AddBool(sub, "--session-tags", c.session_tags,
          "Tag sessions with kubernetes-namespace, -pod-name, -service-account, -pod-uid");
  AddBool(sub, "--source-identity", c.source_identity,
          "Set SourceIdentity to the session name (namespace.pod, or namespace.sa=NAME)");
  AddFlag(sub, "--session-scope", c.session_scope,
          "Whose session credentials are: pod (one per pod, CloudTrail names the pod) or "
          "service-account (shared per namespace, ServiceAccount and role: fewer STS calls)")
      ->check(CLI::IsMember({"pod", "service-account"}))
      ->capture_default_str();
  AddFlag(sub, "--assume-role", c.assume_role,
          "Intermediate role podiam assumes first and uses for all pod roles");
  AddBool(sub, "--iptables", c.iptables,
          "Install the DNAT rule sending pods' metadata traffic to the agent");
  AddFlag(sub, "--host-interface", c.host_interface,
          "Pod-facing interface(s) for the DNAT rule: cni0, cali+ or !eth0");
  AddFlag(sub, "--host-ip", c.host_ip, "This node's IP, the DNAT target");
  AddBool(sub, "--iptables-remove-on-exit", c.iptables_remove_on_exit,
          "Remove the DNAT rule on exit (default: keep it, so pods never reach the node's IMDS)");
  AddFlag(sub, "--metadata-addr", c.metadata_addr, "Metadata address to intercept")
      ->capture_default_str();
  AddFlag(sub, "--metadata-addr-v6", c.metadata_addr_v6, "IPv6 metadata address; empty: off")
      ->capture_default_str();
  AddFlag(sub, "--host-ipv6", c.host_ipv6, "This node's IPv6 address, the IPv6 DNAT target");
  AddFlag(sub, "--ipv6-metadata", c.ipv6_metadata,
          "IPv6 DNAT rule: on, off, or auto (needed when the node routes the IPv6 address)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  AddFlag(sub, "--metadata-allow-list", c.metadata_allow_list,
          "Metadata paths SDKs read for region discovery, passed to the node's IMDS: default "
          "(placement/region, placement/availability-zone, dynamic/instance-identity/document) or "
          "none")
      ->check(CLI::IsMember({"default", "none"}))
      ->capture_default_str();
  AddFlag(sub, "--allow-metadata-path", c.allow_metadata_path,
          "Regular expression of other metadata paths passed to the node's IMDS; default none");
  AddFlag(sub, "--pod-cidr", c.pod_cidrs,
          "This node's pod address range(s); callers outside them are answered at once (repeat or "
          "comma-separate; default: any address may be a pod)")
      ->delimiter(',');
  AddFlag(sub, "--duplicate-ips", c.duplicate_ips,
          "When several running pods claim one IP: newest (the newest pod owns it) or refuse "
          "(nobody gets credentials from it until the conflict is gone, as kube2iam)")
      ->check(CLI::IsMember({"newest", "refuse"}))
      ->capture_default_str();
  AddFlag(sub, "--max-connections-per-pod", c.max_connections_per_pod,
          "Open connections one pod (source IP) may hold to the metadata listener; more are closed")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  auto* imdsv1 = sub.add_option_function<std::string>(
      "--imdsv1", [&c](const std::string& v) { c.imdsv1 = v == "allow"; },
      "allow: answer GETs without a session token; deny: require IMDSv2 tokens");
  imdsv1->check(CLI::IsMember({"allow", "deny"}))->envname(EnvNameForFlag("--imdsv1"));
  imdsv1->default_str("allow");
  AddFlag(sub, "--threads", c.threads,
          "I/O threads serving pods' metadata requests; 0: one per CPU, at most 4")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  AddContainerCredentialsFlags(sub, c.container_credentials);
  AddCompatFlags(sub, c, log);  // kube2iam's and kiam's flags; keep last
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

  std::vector<std::pair<CLI::App*, Command>> subs;
  subs.reserve(kSubcommands.size());
  for (const auto& s : kSubcommands) {
    auto* sub = app.add_subcommand(s.name, s.description);
    if (s.command == Command::kAgent) {
      AddAgentFlags(*sub, inv.agent, log_flags);
    }
    subs.emplace_back(sub, s.command);
  }
  // Help of the subcommand that asked for it, else of podiam.
  auto help_text = [&app, &subs]() {
    for (const auto& [sub, command] : subs) {
      if (sub->parsed()) {
        return sub->help();
      }
    }
    return app.help();
  };

  // kube2iam's chart passes its flags with no subcommand (its image's entrypoint is kube2iam): a
  // command line that starts with a flag and names no subcommand is `podiam agent`.
  std::vector<std::string> given = args;
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
