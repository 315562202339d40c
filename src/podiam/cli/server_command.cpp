#include "podiam/cli/server_command.hpp"

#include <fmt/format.h>

#include <memory>

#include "podiam/cli/flag_groups.hpp"
#include "podiam/cli/flags.hpp"
#include "podiam/http/host_port.hpp"

namespace podiam::cli {
namespace {

constexpr const char* kGroup = "Server";
constexpr const char* kKiam = "Compatibility (kiam server)";

// kiam server's flags with the same meaning as a podiam flag, and those podiam only accepts.
struct KiamFlags {
  std::string role_base_arn;
  bool role_base_arn_autodetect = false;
  std::chrono::seconds session_refresh{0};
  std::string assume_role_arn;
  std::string prometheus_listen_addr;
  std::string level;
  bool json_log = false;
  std::vector<std::string> ignored;  // "--flag": given, not honoured
};

// Registers kiam's name for a podiam option that a shared group registered (never both given).
template <typename T>
CLI::Option* Alias(CLI::App& sub, const std::string& name, T& target, const std::string& podiam) {
  auto* opt = sub.add_option(name, target, "kiam: " + podiam)->group(kKiam);
  if (auto* own = sub.get_option_no_throw(podiam)) {
    opt->excludes(own);
  }
  return opt;
}

void Ignored(CLI::App& sub, const std::shared_ptr<KiamFlags>& kiam, const std::string& name,
             bool takes_value) {
  auto note = [kiam, name](const auto& /*value*/) { kiam->ignored.push_back(name); };
  if (takes_value) {
    sub.add_option_function<std::string>(name, note, "kiam: ignored")->group(kKiam);
  } else {
    sub.add_flag_function(
           name, [kiam, name](std::int64_t /*count*/) { kiam->ignored.push_back(name); },
           "kiam: ignored")
        ->group(kKiam);
  }
}

std::string IgnoredWarning(const std::string& flag) {
  if (flag.starts_with("--grpc-")) {
    return fmt::format(
        "kiam server flag {} is ignored: podiam server speaks HTTPS with HTTP/1.1 keep-alive, not "
        "gRPC (docs/server.md)",
        flag);
  }
  if (flag == "--session") {
    return "kiam server flag --session is ignored: session names follow --session-scope "
           "(docs/server.md)";
  }
  return fmt::format(
      "kiam server flag {} is ignored: podiam server prefetches from its informers' events with "
      "its own bounded workers (docs/server.md)",
      flag);
}

}  // namespace

std::function<Result<SubcommandInvocation>()> AddServerCommand(CLI::App& sub,
                                                               const GlobalLogFlags& log) {
  auto invocation = std::make_shared<ServerInvocation>();
  auto kiam = std::make_shared<KiamFlags>();
  ServerConfig& c = invocation->config;
  AddKubeFlags(sub, c.kube);
  AddRoleFlags(sub, c.roles);
  AddAwsFlags(sub, c.aws);
  AddSessionFlags(sub, c.sessions);

  auto* listen = AddFlag(sub, "--listen", c.listen,
                         "Address:port of the agents' HTTPS endpoint (also /healthz /readyz "
                         "/metrics)")
                     ->capture_default_str()
                     ->group(kGroup);
  AddFlag(sub, "--metrics-listen", c.metrics_listen,
          "Extra plain-HTTP address:port for /metrics /healthz /readyz (default: none)")
      ->group(kGroup);
  AddFlag(sub, "--cert", c.tls_cert, "Server certificate file (PEM; required)")->group(kGroup);
  AddFlag(sub, "--key", c.tls_key, "Server private key file (PEM; required)")->group(kGroup);
  AddFlag(sub, "--ca", c.tls_client_ca,
          "CA file: agents must also present a client certificate it signed (kiam's mTLS), in "
          "addition to their token")
      ->group(kGroup);
  AddFlag(sub, "--token-audience", c.token_audiences,
          "Audience agents' tokens are reviewed for (repeatable)")
      ->capture_default_str()
      ->group(kGroup);
  AddFlag(sub, "--agent-service-account", c.agent_service_accounts,
          "NAMESPACE:NAME of a ServiceAccount whose tokens are agents (repeatable)")
      ->capture_default_str()
      ->group(kGroup);
  AddBool(sub, "--allow-unbound-agents", c.allow_unbound_agents,
          "Accept agent tokens that are not bound to a node (weaker: such an agent may ask for "
          "any pod; for migration only)")
      ->group(kGroup);
  AddFlag(sub, "--threads", c.threads, "HTTPS I/O threads")->capture_default_str()->group(kGroup);

  // kiam server's names.
  sub.add_option("--bind", c.listen, "kiam: --listen")->group(kKiam)->excludes(listen);
  Alias(sub, "--role-base-arn", kiam->role_base_arn, "--base-role-arn");
  auto* autodetect = sub.add_flag("--role-base-arn-autodetect", kiam->role_base_arn_autodetect,
                                  "kiam: --auto-discover-base-arn")
                         ->group(kKiam);
  (void)autodetect;
  auto* refresh =
      sub.add_option_function<std::string>(
             "--session-refresh",
             [kiam](const std::string& text) {
               if (auto d = ParseDuration(text)) {
                 kiam->session_refresh = *d;
               } else {
                 throw CLI::ValidationError("--session-refresh", "not a duration: " + text);
               }
             },
             "kiam: --refresh-before")
          ->group(kKiam);
  if (auto* own = sub.get_option_no_throw("--refresh-before")) {
    refresh->excludes(own);
  }
  Alias(sub, "--assume-role-arn", kiam->assume_role_arn, "--assume-role");
  Alias(sub, "--prometheus-listen-addr", kiam->prometheus_listen_addr, "--metrics-listen");
  sub.add_option("--level", kiam->level, "kiam: --log-level")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->group(kKiam);
  sub.add_flag("--json-log", kiam->json_log, "kiam: --log-format json")->group(kKiam);
  for (const char* flag :
       {"--fetchers", "--prefetch-buffer-size", "--sync", "--session",
        "--grpc-keepalive-time-duration", "--grpc-keepalive-timeout-duration",
        "--grpc-max-connection-idle-duration", "--grpc-max-connection-age-duration",
        "--grpc-max-connection-age-grace-duration", "--prometheus-sync-interval"}) {
    Ignored(sub, kiam, flag, true);
  }
  Ignored(sub, kiam, "--disable-strict-namespace-regexp", false);

  // kiam's log flags set the global ones (unless those are given), before they are read.
  sub.final_callback([kiam, log] {
    bool own_level = log.level_option != nullptr && log.level_option->count() > 0;
    bool own_format = log.format_option != nullptr && log.format_option->count() > 0;
    if (!kiam->level.empty() && !own_level && log.level != nullptr) {
      *log.level = kiam->level;
    }
    if (kiam->json_log && !own_format && log.format != nullptr) {
      *log.format = "json";
    }
  });
  return [invocation, kiam]() -> Result<SubcommandInvocation> {
    ServerConfig& cfg = invocation->config;
    if (!kiam->role_base_arn.empty()) {
      cfg.roles.base_role_arn = kiam->role_base_arn;
    }
    if (kiam->role_base_arn_autodetect) {
      cfg.roles.auto_discover_base_arn = true;
    }
    if (kiam->session_refresh.count() > 0) {
      cfg.sessions.refresh_before = kiam->session_refresh;
    }
    if (!kiam->assume_role_arn.empty()) {
      cfg.aws.assume_role = kiam->assume_role_arn;
    }
    if (!kiam->prometheus_listen_addr.empty()) {
      cfg.metrics_listen = kiam->prometheus_listen_addr;
    }
    for (const auto& flag : kiam->ignored) {
      cfg.compat_warnings.push_back(IgnoredWarning(flag));
    }
    return SubcommandInvocation(*invocation);
  };
}

Result<void> CheckServerConfig(const ServerConfig& c) {
  for (auto check : {CheckSessionFlags(c.sessions, /*role_chaining=*/!c.aws.assume_role.empty()),
                     CheckRoleFlags(c.roles), CheckAwsFlags(c.aws)}) {
    if (!check) {
      return check;
    }
  }
  if (c.tls_cert.empty() || c.tls_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--cert and --key are required: agents reach the server over HTTPS only");
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, std::string>{"--listen", c.listen},
        std::pair<const char*, std::string>{"--metrics-listen", c.metrics_listen}}) {
    if (value.empty() && std::string_view(flag) == "--metrics-listen") {
      continue;
    }
    if (auto address = http::ParseHostPort(value); !address) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{} {}", flag, address.error().message()));
    }
  }
  if (c.token_audiences.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--token-audience: at least one is needed");
  }
  for (const auto& account : c.agent_service_accounts) {
    auto colon = account.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == account.size() ||
        account.find(':', colon + 1) != std::string::npos) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          fmt::format("--agent-service-account must be NAMESPACE:NAME, got '{}'", account));
    }
  }
  if (c.threads < 1 || c.threads > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "--threads must be between 1 and 64");
  }
  return {};
}

}  // namespace podiam::cli
