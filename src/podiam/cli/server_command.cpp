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

constexpr const char* kSharding = "High availability and sharding";

void AddServerShardingFlags(CLI::App& sub, ServerConfig& c) {
  AddChoice(sub, "--sharding", c.sharding, {{"on", true}, {"off", false}},
            "Share the prefetch among replicas by Lease membership and rendezvous hashing (off: "
            "every replica prefetches every pod)")
      ->group(kSharding);
  AddFlag(sub, "--identity", c.identity,
          "This replica's name in the group (default $POD_NAME, else the host name)")
      ->group(kSharding);
  AddFlag(sub, "--membership-namespace", c.membership_namespace,
          "Namespace of the replicas' Leases (default $POD_NAMESPACE, else kube-system)")
      ->group(kSharding);
  AddFlag(sub, "--membership-lease-prefix", c.membership_lease_prefix,
          "Lease name prefix and server-group label value (Lease <prefix>-<identity>)")
      ->capture_default_str()
      ->group(kSharding);
  AddDuration(sub, "--membership-lease-duration", c.membership_lease_duration,
              "A replica whose Lease is not renewed for this long is gone")
      ->group(kSharding);
  AddDuration(sub, "--membership-renew-period", c.membership_renew_period,
              "How often a replica renews its Lease")
      ->group(kSharding);
  AddFlag(sub, "--peer-url", c.peer_url,
          "https URL peers reach this replica at (default https://$POD_IP:<--listen port>)")
      ->group(kSharding);
  AddFlag(sub, "--peer-ca", c.peer_ca,
          "PEM CA bundle that signed the peers' serving certificates (default: --ca if set, else "
          "the system's trust store)")
      ->group(kSharding);
  AddFlag(sub, "--peer-tls-server-name", c.peer_tls_server_name,
          "Verify peers' certificates for this name (e.g. podiam-server.kube-system.svc) "
          "instead of the peer URL's host (default: the host)")
      ->group(kSharding);
  AddFlag(sub, "--peer-token-file", c.peer_token_file,
          "This replica's projected ServiceAccount token (audience podiam-server) for peer "
          "requests, read on every request")
      ->capture_default_str()
      ->group(kSharding);
  AddFlag(sub, "--peer-service-account", c.peer_service_accounts,
          "NAMESPACE:NAME of a ServiceAccount whose tokens are server replicas (repeatable)")
      ->capture_default_str()
      ->group(kSharding);
}

Result<void> CheckNamespaceName(const char* flag, const std::string& account) {
  auto colon = account.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == account.size() ||
      account.find(':', colon + 1) != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} must be NAMESPACE:NAME, got '{}'", flag, account));
  }
  return {};
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
  AddServerShardingFlags(sub, c);

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
    if (auto ok = CheckNamespaceName("--agent-service-account", account); !ok) {
      return ok;
    }
  }
  for (const auto& account : c.peer_service_accounts) {
    if (auto ok = CheckNamespaceName("--peer-service-account", account); !ok) {
      return ok;
    }
  }
  if (c.membership_renew_period.count() < 1 ||
      c.membership_lease_duration <= c.membership_renew_period) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--membership-renew-period must be at least 1s and shorter than "
                     "--membership-lease-duration");
  }
  if (!c.peer_url.empty() && !c.peer_url.starts_with("https://")) {
    return MakeError(ErrorCode::kInvalidArgument, "--peer-url must be an https:// URL");
  }
  if (c.threads < 1 || c.threads > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "--threads must be between 1 and 64");
  }
  return {};
}

}  // namespace podiam::cli
