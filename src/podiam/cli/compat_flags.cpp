#include "podiam/cli/compat_flags.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

// What podiam does instead of a flag it accepts but does not honour. Flags with the same note
// share one warning line.
namespace note {
constexpr const char* kApiServer =
    "podiam takes the apiserver address and credentials from --kubeconfig, $KUBECONFIG or the "
    "in-cluster ServiceAccount";
constexpr const char* kInsecure =
    "podiam verifies the apiserver's certificate; only a kubeconfig's insecure-skip-tls-verify, "
    "with --kube-insecure-skip-tls-verify, turns that off";
constexpr const char* kDebug = "podiam has no /debug/store endpoint";
constexpr const char* kErrorTtl =
    "podiam caches AssumeRole errors that a retry cannot fix for 10s and retries the others with "
    "backoff from 1s to 60s";
constexpr const char* kResync =
    "podiam's watches do not resync periodically: they resume from the last resourceVersion and "
    "list again when the apiserver answers 410 Gone";
constexpr const char* kDuplicateIps =
    "podiam decides which pod owns a shared IP itself: finished and hostNetwork pods never do, a "
    "running pod beats a terminating one, then the newest wins";
constexpr const char* kBackoff =
    "podiam waits briefly for a pod it has not seen yet, then asks the apiserver directly, within "
    "the AWS SDKs' 1s timeout";
constexpr const char* kGlobalSts =
    "podiam always calls the regional STS endpoint of --region; --sts-endpoint overrides it";
constexpr const char* kKiamConnection =
    "podiam agent calls STS itself with its own AWS credentials, or with --server asks podiam "
    "server over HTTPS; kiam's gRPC connection settings do not apply";
constexpr const char* kPrefetch =
    "podiam prefetches a pod's credentials as soon as the pod appears on this node, with at most "
    "8 STS calls at once";
constexpr const char* kStrictRegexp =
    "podiam always anchors the iam.amazonaws.com/permitted regular expression";
constexpr const char* kIpQuery =
    "podiam identifies a pod only by the source address of its connection";
constexpr const char* kPprof = "podiam has no pprof endpoint";
constexpr const char* kPrometheusSync = "podiam computes its metrics when /metrics is scraped";
constexpr const char* kSession =
    "podiam names sessions <namespace>.<pod>, or after the pod's iam.amazonaws.com/session-name "
    "annotation";
}  // namespace note

// creds::BrokerOptions::min_remaining: credentials with less left are never served.
constexpr std::chrono::seconds kMinServedLifetime = std::chrono::minutes(15);

std::optional<unsigned> ParsePort(std::string_view text) {
  unsigned port = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, port);
  if (text.empty() || ec != std::errc() || ptr != end || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// "0.0.0.0:8181" -> "0.0.0.0" and "8181"; no colon: all host, no port.
std::string HostOf(std::string_view listen) {
  auto colon = listen.rfind(':');
  return std::string(colon == std::string_view::npos ? listen : listen.substr(0, colon));
}
std::string PortOf(std::string_view listen) {
  auto colon = listen.rfind(':');
  return colon == std::string_view::npos ? std::string() : std::string(listen.substr(colon + 1));
}

// Go's ":9620" (every address) in podiam's form.
std::string ListenAddress(std::string_view address) {
  return !address.empty() && address.front() == ':' ? "0.0.0.0" + std::string(address)
                                                    : std::string(address);
}

// 5400 s -> "1h30m", as Go prints durations (without the trailing "0s").
std::string FormatDuration(std::chrono::seconds duration) {
  auto s = duration.count();
  if (s == 0) {
    return "0s";
  }
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
  }
  if (s % 3600 >= 60) {
    out += std::to_string(s % 3600 / 60) + "m";
  }
  if (s % 60 != 0) {
    out += std::to_string(s % 60) + "s";
  }
  return out;
}

bool Given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }

// One podiam setting and every flag given for it, each value in podiam's form. Given values must
// agree.
class Setting {
 public:
  // `shown` is how the flag appears in a conflict message, e.g. "--app-port=8181".
  void Add(bool given, std::string shown, std::string value) {
    if (given) {
      given_.push_back({std::move(shown), std::move(value)});
    }
  }
  // The agreed value; nullopt when no flag was given. Throws a usage error when two disagree.
  [[nodiscard]] std::optional<std::string> Resolve() const {
    if (given_.empty()) {
      return std::nullopt;
    }
    for (const auto& other : given_) {
      if (other.value != given_.front().value) {
        throw CLI::ValidationError(given_.front().shown + " and " + other.shown +
                                   " disagree; give only one of them");
      }
    }
    return given_.front().value;
  }

 private:
  struct Entry {
    std::string shown;
    std::string value;
  };
  std::vector<Entry> given_;
};

std::string BoolText(bool value) { return value ? "true" : "false"; }

// Everything the compatibility flags parse into; shared by the option callbacks and the final
// translation.
struct State {
  State(AgentConfig& c, const GlobalLogFlags& l) : config(c), log(l) {}

  AgentConfig& config;
  GlobalLogFlags log;

  // podiam's own flags, to tell whether they were given.
  struct {
    const CLI::Option* listen = nullptr;
    const CLI::Option* metrics_listen = nullptr;
    const CLI::Option* base_role_arn = nullptr;
    const CLI::Option* auto_discover_base_arn = nullptr;
    const CLI::Option* assume_role = nullptr;
    const CLI::Option* session_duration = nullptr;
    const CLI::Option* refresh_before = nullptr;
    const CLI::Option* iptables = nullptr;
    const CLI::Option* iptables_remove_on_exit = nullptr;
    const CLI::Option* host_ip = nullptr;
    const CLI::Option* allow_metadata_path = nullptr;
  } podiam;

  // Translated legacy flags: value, and the option whose count() says whether it was given.
  template <typename T>
  struct Flag {
    T value{};
    CLI::Option* option = nullptr;
    [[nodiscard]] bool given() const { return Given(option); }
  };
  Flag<std::string> app_port;                // kube2iam --app-port
  Flag<std::string> port;                    // kiam --port
  Flag<std::string> metrics_port;            // kube2iam --metrics-port
  Flag<std::string> prometheus_listen_addr;  // kiam --prometheus-listen-addr
  Flag<std::string> iam_role_session_ttl;    // kube2iam --iam-role-session-ttl
  Flag<std::string> session_refresh;         // kiam --session-refresh
  Flag<std::string> role_base_arn;           // kiam --role-base-arn
  Flag<bool> role_base_arn_autodetect;       // kiam --role-base-arn-autodetect
  Flag<std::string> assume_role_arn;         // kiam --assume-role-arn
  Flag<bool> no_iptables;                    // kiam --no-iptables
  Flag<bool> iptables_remove{true};          // kiam --iptables-remove / --no-iptables-remove
  Flag<std::string> host;                    // kiam --host
  Flag<std::string> allow_route_regexp;      // kiam --allow-route-regexp
  Flag<bool> verbose;                        // kube2iam --verbose
  Flag<std::string> level;                   // kiam --level
  Flag<bool> json_log;                       // kiam --json-log / --no-json-log
  Flag<bool> auto_discover_default_role;     // kube2iam --auto-discover-default-role

  // Ignored flags given, grouped by note, in registration order.
  std::vector<std::pair<const char*, std::vector<std::string>>> ignored;
  void Ignore(const std::string& flag, const char* what_instead) {
    for (auto& [n, flags] : ignored) {
      if (n == what_instead) {
        flags.push_back(flag);
        return;
      }
    }
    ignored.push_back({what_instead, {flag}});
  }

  void Translate();
};

std::chrono::seconds DurationOf(const State::Flag<std::string>& flag, const std::string& name) {
  auto d = ParseDuration(flag.value);
  if (!d) {
    throw CLI::ValidationError(name, "'" + flag.value + "' is not a duration such as 1h or 30m");
  }
  return *d;
}

void State::Translate() {
  AgentConfig& c = config;
  std::vector<std::string> warnings;

  // The metadata listener: kube2iam --app-port and kiam --port are the port on every address.
  Setting listen;
  listen.Add(Given(podiam.listen), "--listen=" + c.listener.listen, c.listener.listen);
  for (auto [flag, name] : {std::pair{&app_port, "--app-port"}, std::pair{&port, "--port"}}) {
    if (flag->given() && !ParsePort(flag->value)) {
      throw CLI::ValidationError(name, "'" + flag->value + "' is not a port number");
    }
    listen.Add(flag->given(), std::string(name) + "=" + flag->value,
               HostOf(c.listener.listen) + ":" + flag->value);
  }
  if (auto v = listen.Resolve()) {
    c.listener.listen = *v;
  }

  // /metrics: kube2iam --metrics-port (default: the metadata port, which podiam cannot share),
  // kiam --prometheus-listen-addr.
  Setting metrics;
  metrics.Add(Given(podiam.metrics_listen), "--metrics-listen=" + c.ops.metrics_listen,
              c.ops.metrics_listen);
  if (metrics_port.given()) {
    auto p = ParsePort(metrics_port.value);
    if (!p) {
      throw CLI::ValidationError("--metrics-port",
                                 "'" + metrics_port.value + "' is not a port number");
    }
    if (p == ParsePort(PortOf(c.listener.listen))) {
      warnings.push_back("--metrics-port=" + metrics_port.value +
                         " is the metadata port, which /metrics cannot share: podiam serves it on "
                         "--metrics-listen " +
                         c.ops.metrics_listen + " instead");
    } else {
      metrics.Add(true, "--metrics-port=" + metrics_port.value,
                  HostOf(c.ops.metrics_listen) + ":" + metrics_port.value);
    }
  }
  metrics.Add(prometheus_listen_addr.given() && !prometheus_listen_addr.value.empty(),
              "--prometheus-listen-addr=" + prometheus_listen_addr.value,
              ListenAddress(prometheus_listen_addr.value));
  if (auto v = metrics.Resolve()) {
    c.ops.metrics_listen = *v;
  }

  // Role ARNs.
  Setting base;
  base.Add(Given(podiam.base_role_arn), "--base-role-arn=" + c.roles.base_role_arn,
           c.roles.base_role_arn);
  base.Add(role_base_arn.given(), "--role-base-arn=" + role_base_arn.value, role_base_arn.value);
  if (auto v = base.Resolve()) {
    c.roles.base_role_arn = *v;
  }
  Setting discover;
  discover.Add(Given(podiam.auto_discover_base_arn),
               "--auto-discover-base-arn=" + BoolText(c.roles.auto_discover_base_arn),
               BoolText(c.roles.auto_discover_base_arn));
  discover.Add(role_base_arn_autodetect.given(),
               "--role-base-arn-autodetect=" + BoolText(role_base_arn_autodetect.value),
               BoolText(role_base_arn_autodetect.value));
  if (auto v = discover.Resolve()) {
    c.roles.auto_discover_base_arn = *v == "true";
  }
  if (auto_discover_default_role.given() && auto_discover_default_role.value) {
    if (c.roles.base_role_arn.empty()) {
      c.roles.auto_discover_base_arn = true;
    }
    warnings.emplace_back(
        "--auto-discover-default-role: podiam gives pods without a role no credentials; set "
        "--default-role to the node's role name to keep kube2iam's behaviour (the base ARN is "
        "still discovered, as with --auto-discover-base-arn)");
  }
  Setting assume;
  assume.Add(Given(podiam.assume_role), "--assume-role=" + c.aws.assume_role, c.aws.assume_role);
  assume.Add(assume_role_arn.given(), "--assume-role-arn=" + assume_role_arn.value,
             assume_role_arn.value);
  if (auto v = assume.Resolve()) {
    c.aws.assume_role = *v;
  }

  // Credential lifetime. kube2iam asks STS for twice --iam-role-session-ttl and reuses the
  // credentials for one TTL, i.e. refreshes them when one TTL is left.
  Setting duration;
  Setting refresh;
  duration.Add(Given(podiam.session_duration),
               "--session-duration=" + FormatDuration(c.sessions.session_duration),
               std::to_string(c.sessions.session_duration.count()));
  refresh.Add(Given(podiam.refresh_before),
              "--refresh-before=" + FormatDuration(c.sessions.refresh_before),
              std::to_string(c.sessions.refresh_before.count()));
  if (iam_role_session_ttl.given()) {
    auto ttl = DurationOf(iam_role_session_ttl, "--iam-role-session-ttl");
    std::string shown = "--iam-role-session-ttl=" + iam_role_session_ttl.value;
    duration.Add(true, shown + " (--session-duration=" + FormatDuration(2 * ttl) + ")",
                 std::to_string((2 * ttl).count()));
    refresh.Add(true, shown + " (--refresh-before=" + FormatDuration(ttl) + ")",
                std::to_string(ttl.count()));
    if (ttl <= kMinServedLifetime) {
      warnings.push_back(shown + ": podiam asks STS for " + FormatDuration(2 * ttl) +
                         " and refreshes with " + FormatDuration(ttl) +
                         " left, but never serves credentials with under 15m left, so a slow "
                         "refresh makes pods wait; a TTL of 30m, or --session-duration and "
                         "--refresh-before, leave room");
    }
  }
  if (session_refresh.given()) {
    auto before = DurationOf(session_refresh, "--session-refresh");
    refresh.Add(true, "--session-refresh=" + session_refresh.value, std::to_string(before.count()));
  }
  if (auto v = duration.Resolve()) {
    c.sessions.session_duration = std::chrono::seconds(std::stoll(*v));
  }
  if (auto v = refresh.Resolve()) {
    c.sessions.refresh_before = std::chrono::seconds(std::stoll(*v));
  }

  // Node networking.
  Setting iptables;
  iptables.Add(Given(podiam.iptables), "--iptables=" + BoolText(c.hostnet.iptables),
               BoolText(c.hostnet.iptables));
  iptables.Add(no_iptables.given() && no_iptables.value, "--no-iptables", "false");
  if (auto v = iptables.Resolve()) {
    c.hostnet.iptables = *v == "true";
  }
  Setting remove;
  remove.Add(Given(podiam.iptables_remove_on_exit),
             "--iptables-remove-on-exit=" + BoolText(c.hostnet.iptables_remove_on_exit),
             BoolText(c.hostnet.iptables_remove_on_exit));
  remove.Add(iptables_remove.given(),
             iptables_remove.value ? "--iptables-remove" : "--no-iptables-remove",
             BoolText(iptables_remove.value));
  if (auto v = remove.Resolve()) {
    c.hostnet.iptables_remove_on_exit = *v == "true";
  }
  Setting host_ip;
  host_ip.Add(Given(podiam.host_ip), "--host-ip=" + c.hostnet.host_ip, c.hostnet.host_ip);
  host_ip.Add(host.given(), "--host=" + host.value, host.value);
  if (auto v = host_ip.Resolve()) {
    c.hostnet.host_ip = *v;
  } else if (const char* env = std::getenv("HOST_IP");  // NOLINT(concurrency-mt-unsafe): main
             env != nullptr && *env != '\0') {
    c.hostnet.host_ip = env;  // kiam's --host default
  }
  if (c.hostnet.iptables && c.hostnet.host_interface.empty()) {
    c.hostnet.host_interface = "docker0";
    warnings.emplace_back(
        "--iptables without --host-interface: using docker0, the default of kube2iam and kiam; "
        "set --host-interface to the pods' interface (cali+, eni+, cni0) if it is not docker0");
  }

  // Metadata paths passed to the node's IMDS. kiam matches its regexp anywhere in the path
  // (unanchored); podiam anchors --allow-metadata-path, so widen it. kiam's default "^$" (and an
  // empty value) allows nothing, as podiam's empty default does.
  Setting allow;
  allow.Add(Given(podiam.allow_metadata_path),
            "--allow-metadata-path=" + c.imds.allow_metadata_path, c.imds.allow_metadata_path);
  if (allow_route_regexp.given()) {
    const std::string& re = allow_route_regexp.value;
    allow.Add(true, "--allow-route-regexp=" + re,
              re.empty() || re == "^$" ? std::string() : ".*(?:" + re + ").*");
  }
  if (auto v = allow.Resolve()) {
    c.imds.allow_metadata_path = *v;
  }

  // Logging: kube2iam's --verbose wins over --log-level, as in kube2iam.
  Setting level_setting;
  level_setting.Add(Given(log.level_option), "--log-level=" + *log.level, *log.level);
  level_setting.Add(level.given(), "--level=" + level.value, level.value);
  if (auto v = level_setting.Resolve()) {
    *log.level = *v;
  }
  if (verbose.given() && verbose.value) {
    *log.level = "debug";
  }
  Setting format;
  format.Add(Given(log.format_option), "--log-format=" + *log.format, *log.format);
  format.Add(json_log.given(), json_log.value ? "--json-log" : "--no-json-log",
             json_log.value ? "json" : "text");
  if (auto v = format.Resolve()) {
    *log.format = *v;
  }

  for (const auto& [what_instead, flags] : ignored) {
    std::string line;
    for (const auto& flag : flags) {
      line += (line.empty() ? "" : ", ") + flag;
    }
    warnings.push_back(line + " ignored: " + what_instead);
  }
  c.compat_warnings.insert(c.compat_warnings.end(), warnings.begin(), warnings.end());
}

// A translated flag with a value. Repeated, the last one counts, as with pflag and kingpin.
void AddValue(CLI::App& app, const std::string& name, const char* type,
              State::Flag<std::string>& flag, const std::string& help) {
  flag.option = app.add_option(name, flag.value, help);
  flag.option->group(kCompatGroup)
      ->type_name(type)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

// A translated boolean flag; `names` may add kingpin's negation ("--json-log,!--no-json-log").
void AddBoolean(CLI::App& app, const std::string& names, State::Flag<bool>& flag,
                const std::string& help) {
  flag.option = app.add_flag(names, flag.value, help);
  flag.option->group(kCompatGroup);
}

// An ignored flag with a value: warns when given a non-empty value.
void IgnoreValue(CLI::App& app, const std::shared_ptr<State>& state, const std::string& name,
                 const char* what_instead, const std::string& help) {
  app.add_option_function<std::string>(
         name,
         [state, name, what_instead](const std::string& value) {
           if (!value.empty()) {
             state->Ignore(name, what_instead);
           }
         },
         help)
      ->group(kCompatGroup)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

// An ignored boolean flag: warns when set to `warn_when` (the value podiam does not honour).
void IgnoreBool(CLI::App& app, const std::shared_ptr<State>& state, const std::string& names,
                bool warn_when, const char* what_instead, const std::string& help) {
  std::string name = names.substr(0, names.find(','));
  app.add_flag_function(
         names,
         [state, name, warn_when, what_instead](std::int64_t count) {
           if ((count > 0) == warn_when) {
             state->Ignore(warn_when ? name : name + "=false", what_instead);
           }
         },
         help)
      ->group(kCompatGroup);
}

}  // namespace

void TranslateLegacyLogLevel(std::string& level) {
  if (level == "panic" || level == "fatal") {
    level = "error";
  }
}

void AddCompatFlags(CLI::App& agent, AgentConfig& config, const GlobalLogFlags& log) {
  auto state = std::make_shared<State>(config, log);
  State& s = *state;
  s.podiam.listen = agent.get_option("--listen");
  s.podiam.metrics_listen = agent.get_option("--metrics-listen");
  s.podiam.base_role_arn = agent.get_option("--base-role-arn");
  s.podiam.auto_discover_base_arn = agent.get_option("--auto-discover-base-arn");
  s.podiam.assume_role = agent.get_option("--assume-role");
  s.podiam.session_duration = agent.get_option("--session-duration");
  s.podiam.refresh_before = agent.get_option("--refresh-before");
  s.podiam.iptables = agent.get_option("--iptables");
  s.podiam.iptables_remove_on_exit = agent.get_option("--iptables-remove-on-exit");
  s.podiam.host_ip = agent.get_option("--host-ip");
  s.podiam.allow_metadata_path = agent.get_option("--allow-metadata-path");

  agent.set_version_flag("--version", "podiam " + std::string(Version()),
                         "Print the version and exit");

  // kube2iam (pflag). Its other flags are podiam's own: --kubeconfig, --node, --base-role-arn,
  // --auto-discover-base-arn, --default-role, --iam-role-key, --iam-external-id, --iptables,
  // --host-interface, --host-ip, --metadata-addr, --namespace-*, --log-format, --log-level.
  AddValue(agent, "--app-port", "PORT", s.app_port, "kube2iam: --listen 0.0.0.0:PORT");
  AddValue(agent, "--metrics-port", "PORT", s.metrics_port,
           "kube2iam: --metrics-listen 0.0.0.0:PORT (not the metadata port)");
  AddValue(agent, "--iam-role-session-ttl", "DURATION", s.iam_role_session_ttl,
           "kube2iam: --session-duration 2*TTL --refresh-before TTL");
  AddBoolean(agent, "--verbose", s.verbose, "kube2iam: --log-level debug");
  AddBoolean(agent, "--auto-discover-default-role", s.auto_discover_default_role,
             "kube2iam: not supported (use --default-role); discovers the base ARN");
  IgnoreValue(agent, state, "--api-server", note::kApiServer, "kube2iam: ignored (--kubeconfig)");
  IgnoreValue(agent, state, "--api-token", note::kApiServer, "kube2iam: ignored (--kubeconfig)");
  IgnoreBool(agent, state, "--insecure", true, note::kInsecure,
             "kube2iam: ignored (--kube-insecure-skip-tls-verify)");
  IgnoreBool(agent, state, "--debug", true, note::kDebug, "kube2iam: ignored (no /debug/store)");
  IgnoreValue(agent, state, "--iam-role-error-ttl", note::kErrorTtl, "kube2iam: ignored");
  IgnoreValue(agent, state, "--cache-resync-period", note::kResync, "kube2iam: ignored");
  IgnoreBool(agent, state, "--resolve-duplicate-cache-ips", true, note::kDuplicateIps,
             "kube2iam: ignored (newest pod wins)");
  IgnoreValue(agent, state, "--backoff-max-interval", note::kBackoff, "kube2iam: ignored");
  IgnoreValue(agent, state, "--backoff-max-elapsed-time", note::kBackoff, "kube2iam: ignored");
  IgnoreBool(agent, state, "--use-regional-sts-endpoint", false, note::kGlobalSts,
             "kube2iam: always on");

  // kiam agent (kingpin: booleans also as --no-FLAG). Its --iptables and --host-interface are
  // podiam's own.
  AddBoolean(agent, "--json-log,!--no-json-log", s.json_log, "kiam: --log-format json");
  AddValue(agent, "--level", "LEVEL", s.level, "kiam: --log-level");
  s.level.option->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  AddValue(agent, "--prometheus-listen-addr", "ADDRESS:PORT", s.prometheus_listen_addr,
           "kiam: --metrics-listen");
  AddValue(agent, "--port", "PORT", s.port, "kiam: --listen 0.0.0.0:PORT");
  AddValue(agent, "--host", "IP", s.host, "kiam: --host-ip (default $HOST_IP)");
  AddBoolean(agent, "--no-iptables", s.no_iptables, "kiam: --iptables=false");
  AddBoolean(agent, "--iptables-remove,!--no-iptables-remove", s.iptables_remove,
             "kiam: --iptables-remove-on-exit");
  AddValue(agent, "--allow-route-regexp", "REGEXP", s.allow_route_regexp,
           "kiam: --allow-metadata-path '.*(?:REGEXP).*'");
  IgnoreValue(agent, state, "--prometheus-sync-interval", note::kPrometheusSync, "kiam: ignored");
  IgnoreValue(agent, state, "--pprof-listen-addr", note::kPprof, "kiam: ignored");
  IgnoreBool(agent, state, "--allow-ip-query,!--no-allow-ip-query", true, note::kIpQuery,
             "kiam: ignored");
  // Its --server-address, --cert, --key and --ca are cli/server_flags.cpp's.
  for (const char* flag : {"--server-address-refresh", "--gateway-timeout-creation",
                           "--grpc-keepalive-time-duration", "--grpc-keepalive-timeout-duration"}) {
    IgnoreValue(agent, state, flag, note::kKiamConnection, "kiam: ignored (no agent-server TLS)");
  }
  IgnoreBool(agent, state,
             "--grpc-keepalive-permit-without-stream,!--no-grpc-keepalive-permit-without-stream",
             true, note::kKiamConnection, "kiam: ignored");

  // kiam server. Its --kubeconfig, --region and --session-duration are podiam's own; --cert,
  // --key and --ca are the agent's (cli/server_flags.cpp: ignored without a server).
  AddValue(agent, "--role-base-arn", "ARN", s.role_base_arn, "kiam: --base-role-arn");
  AddBoolean(agent, "--role-base-arn-autodetect,!--no-role-base-arn-autodetect",
             s.role_base_arn_autodetect, "kiam: --auto-discover-base-arn");
  AddValue(agent, "--assume-role-arn", "ARN", s.assume_role_arn, "kiam: --assume-role");
  AddValue(agent, "--session-refresh", "DURATION", s.session_refresh, "kiam: --refresh-before");
  IgnoreValue(agent, state, "--session", note::kSession, "kiam: ignored");
  IgnoreBool(agent, state,
             "--disable-strict-namespace-regexp,!--no-disable-strict-namespace-regexp", true,
             note::kStrictRegexp, "kiam: ignored (always anchored)");
  IgnoreValue(agent, state, "--sync", note::kResync, "kiam: ignored");
  IgnoreValue(agent, state, "--fetchers", note::kPrefetch, "kiam: ignored");
  IgnoreValue(agent, state, "--prefetch-buffer-size", note::kPrefetch, "kiam: ignored");
  for (const char* flag :
       {"--bind", "--grpc-max-connection-idle-duration", "--grpc-max-connection-age-duration",
        "--grpc-max-connection-age-grace-duration"}) {
    IgnoreValue(agent, state, flag, note::kKiamConnection, "kiam server: ignored");
  }

  agent.final_callback([state] { state->Translate(); });
}

}  // namespace podiam::cli
