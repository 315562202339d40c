#include "podiam/cli/compat_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <variant>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

// The agent's config; a failure (and the defaults) when the command line did not parse as
// `agent`.
const AgentConfig& AgentOf(const Invocation& inv) {
  static const AgentConfig kDefaults;
  const auto* agent = std::get_if<AgentInvocation>(&inv.subcommand);
  if (agent == nullptr) {
    ADD_FAILURE() << "the command line did not parse to an agent invocation";
    return kDefaults;
  }
  return agent->config;
}

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

Invocation Agent(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"podiam", "agent"});
  return ParseCommandLine(flags);
}

int NewlineCount(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// The warning line that names `flag`, or "" if none does.
std::string WarningFor(const Invocation& inv, const std::string& flag) {
  for (const auto& w : AgentOf(inv).compat_warnings) {
    if (w.find(flag) != std::string::npos) {
      return w;
    }
  }
  return "";
}

// Parses, expecting success.
#define EXPECT_PARSES(inv) EXPECT_FALSE((inv).exit_code) << (inv).stderr_text

// A usage error: exit 2, one line naming `needle`.
void ExpectUsageError(const std::vector<std::string>& flags, const std::string& needle) {
  auto r = Agent(flags);
  EXPECT_EQ(r.exit_code, kExitUsage) << flags.front();
  EXPECT_EQ(NewlineCount(r.stderr_text), 1) << r.stderr_text;
  EXPECT_THAT(r.stderr_text, HasSubstr(needle));
}

// Every flag kube2iam defines, in --flag=value form, parses.
TEST(CompatFlagsTest, EveryKube2iamFlagParses) {
  auto r = Agent({"--api-server=https://10.0.0.1:6443",
                  "--api-token=secret-token",
                  "--app-port=8181",
                  "--metrics-port=9543",
                  "--base-role-arn=arn:aws:iam::123456789012:role/",
                  "--debug",
                  "--default-role=fallback",
                  "--iam-role-key=iam.amazonaws.com/role",
                  "--iam-external-id=iam.amazonaws.com/external-id",
                  "--iam-role-session-ttl=15m",
                  "--iam-role-error-ttl=5m",
                  "--insecure",
                  "--metadata-addr=169.254.169.254",
                  "--iptables=true",
                  "--auto-discover-base-arn",
                  "--auto-discover-default-role=false",
                  "--host-interface=cali+",
                  "--namespace-restrictions",
                  "--namespace-restriction-format=glob",
                  "--namespace-key=iam.amazonaws.com/allowed-roles",
                  "--cache-resync-period=30m",
                  "--resolve-duplicate-cache-ips",
                  "--host-ip=10.0.0.5",
                  "--node=node-1",
                  "--backoff-max-interval=1s",
                  "--backoff-max-elapsed-time=2s",
                  "--log-format=json",
                  "--log-level=fatal",
                  "--use-regional-sts-endpoint",
                  "--verbose=false",
                  "--kubeconfig=/etc/kubeconfig"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(AgentOf(r).listener.listen, "0.0.0.0:8181");
  EXPECT_EQ(AgentOf(r).ops.metrics_listen, "0.0.0.0:9543");
  EXPECT_TRUE(AgentOf(r).hostnet.iptables);
  EXPECT_EQ(r.global.log.level, log::Level::kError);
  EXPECT_EQ(r.global.log.format, log::Format::kJson);
  // The api token is never repeated in a warning.
  for (const auto& w : AgentOf(r).compat_warnings) {
    EXPECT_THAT(w, Not(HasSubstr("secret-token")));
  }
}

// Every flag kiam's agent and server define parses.
TEST(CompatFlagsTest, EveryKiamFlagParses) {
  auto agent = Agent({"--json-log",
                      "--level=info",
                      "--prometheus-listen-addr=0.0.0.0:9620",
                      "--prometheus-sync-interval=5s",
                      "--pprof-listen-addr=localhost:9990",
                      "--cert=/etc/kiam/tls/cert",
                      "--key=/etc/kiam/tls/key",
                      "--ca=/etc/kiam/tls/ca",
                      "--server-address=kiam-server:443",
                      "--server-address-refresh=0s",
                      "--gateway-timeout-creation=1s",
                      "--grpc-keepalive-time-duration=10s",
                      "--grpc-keepalive-timeout-duration=2s",
                      "--grpc-keepalive-permit-without-stream",
                      "--port=8181",
                      "--allow-ip-query",
                      "--allow-route-regexp=^/latest/meta-data/placement/",
                      "--iptables",
                      "--no-iptables-remove",
                      "--host=10.0.0.5",
                      "--host-interface=cali+"});
  ASSERT_FALSE(agent.exit_code) << agent.stderr_text;
  auto server = Agent(
      {"--role-base-arn=arn:aws:iam::123456789012:role/", "--session=kiam",
       "--session-duration=15m", "--session-refresh=5m",
       "--assume-role-arn=arn:aws:iam::123456789012:role/kiam-server",
       "--disable-strict-namespace-regexp", "--sync=1m", "--fetchers=8",
       "--prefetch-buffer-size=1000", "--bind=0.0.0.0:443", "--cert=/etc/kiam/tls/cert",
       "--key=/etc/kiam/tls/key", "--ca=/etc/kiam/tls/ca", "--region=eu-west-1",
       "--kubeconfig=", "--grpc-max-connection-idle-duration=15m",
       "--grpc-max-connection-age-duration=15m", "--grpc-max-connection-age-grace-duration=15m"});
  ASSERT_FALSE(server.exit_code) << server.stderr_text;
  auto autodetect = Agent({"--role-base-arn-autodetect"});
  ASSERT_FALSE(autodetect.exit_code) << autodetect.stderr_text;
  EXPECT_TRUE(AgentOf(autodetect).roles.auto_discover_base_arn);
}

TEST(CompatFlagsTest, ValueFlagsTakeEqualsOrSeparateValue) {
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--app-port=9000", "--role-base-arn=arn:aws:iam::1:role/", "--api-server=x"},
           {"--app-port", "9000", "--role-base-arn", "arn:aws:iam::1:role/", "--api-server",
            "x"}}) {
    auto r = Agent(flags);
    ASSERT_FALSE(r.exit_code) << r.stderr_text;
    EXPECT_EQ(AgentOf(r).listener.listen, "0.0.0.0:9000");
    EXPECT_EQ(AgentOf(r).roles.base_role_arn, "arn:aws:iam::1:role/");
    EXPECT_THAT(WarningFor(r, "--api-server"), HasSubstr("--kubeconfig"));
  }
}

TEST(CompatFlagsTest, BooleanForms) {
  // pflag: --flag, --flag=true|false; kingpin: --flag, --no-flag.
  EXPECT_EQ(Agent({"--verbose"}).global.log.level, log::Level::kDebug);
  EXPECT_EQ(Agent({"--verbose=true"}).global.log.level, log::Level::kDebug);
  EXPECT_EQ(Agent({"--verbose=false"}).global.log.level, log::Level::kInfo);
  EXPECT_EQ(Agent({"--json-log"}).global.log.format, log::Format::kJson);
  EXPECT_EQ(Agent({"--json-log=false"}).global.log.format, log::Format::kText);
  EXPECT_EQ(Agent({"--no-json-log"}).global.log.format, log::Format::kText);
  EXPECT_TRUE(AgentOf(Agent({"--iptables-remove"})).hostnet.iptables_remove_on_exit);
  EXPECT_TRUE(AgentOf(Agent({"--iptables-remove=true"})).hostnet.iptables_remove_on_exit);
  EXPECT_FALSE(AgentOf(Agent({"--no-iptables-remove"})).hostnet.iptables_remove_on_exit);
  EXPECT_FALSE(AgentOf(Agent({"--iptables-remove=false"})).hostnet.iptables_remove_on_exit);
  EXPECT_FALSE(AgentOf(Agent({"--no-iptables"})).hostnet.iptables);
  EXPECT_TRUE(AgentOf(Agent({"--iptables=true", "--host-interface=cni0"})).hostnet.iptables);
  EXPECT_FALSE(AgentOf(Agent({"--iptables=false"})).hostnet.iptables);
  EXPECT_TRUE(AgentOf(Agent({"--role-base-arn-autodetect=true"})).roles.auto_discover_base_arn);
  EXPECT_FALSE(AgentOf(Agent({"--no-role-base-arn-autodetect"})).roles.auto_discover_base_arn);
  // Ignored booleans warn only when they ask for what podiam does not do.
  EXPECT_THAT(WarningFor(Agent({"--debug"}), "--debug"), HasSubstr("/debug/store"));
  EXPECT_THAT(WarningFor(Agent({"--debug=true"}), "--debug"), HasSubstr("/debug/store"));
  EXPECT_THAT(AgentOf(Agent({"--debug=false"})).compat_warnings, IsEmpty());
  EXPECT_THAT(AgentOf(Agent({"--no-allow-ip-query"})).compat_warnings, IsEmpty());
  EXPECT_THAT(AgentOf(Agent({"--use-regional-sts-endpoint"})).compat_warnings, IsEmpty());
  EXPECT_THAT(
      WarningFor(Agent({"--use-regional-sts-endpoint=false"}), "--use-regional-sts-endpoint=false"),
      HasSubstr("regional STS endpoint"));
  ExpectUsageError({"--verbose=perhaps"}, "perhaps");
}

TEST(CompatFlagsTest, ListenPorts) {
  EXPECT_EQ(AgentOf(Agent({"--app-port=8282"})).listener.listen, "0.0.0.0:8282");
  EXPECT_EQ(AgentOf(Agent({"--port", "3100"})).listener.listen, "0.0.0.0:3100");
  // Agreeing with --listen is fine; --listen keeps its host.
  auto same = Agent({"--listen=10.0.0.5:8181", "--app-port=8181"});
  EXPECT_PARSES(same);
  EXPECT_EQ(AgentOf(same).listener.listen, "10.0.0.5:8181");
  // Repeated, the last one counts (pflag, kingpin).
  EXPECT_EQ(AgentOf(Agent({"--app-port=1", "--app-port=2"})).listener.listen, "0.0.0.0:2");
  ExpectUsageError({"--app-port=http"}, "--app-port");
  ExpectUsageError({"--port=70000"}, "--port");
}

TEST(CompatFlagsTest, MetricsListener) {
  auto own = Agent({"--app-port=8181", "--metrics-port=9543"});
  EXPECT_EQ(AgentOf(own).ops.metrics_listen, "0.0.0.0:9543");
  EXPECT_THAT(AgentOf(own).compat_warnings, IsEmpty());
  // kube2iam's chart default: metrics on the metadata port, which podiam cannot share.
  auto shared = Agent({"--app-port=8181", "--metrics-port=8181"});
  EXPECT_PARSES(shared);
  EXPECT_EQ(AgentOf(shared).ops.metrics_listen, "0.0.0.0:9620");
  EXPECT_THAT(AgentOf(shared).compat_warnings,
              ElementsAre(AllOf(HasSubstr("--metrics-port=8181"), HasSubstr("0.0.0.0:9620"))));
  auto prometheus = Agent({"--prometheus-listen-addr=:9621"});
  EXPECT_EQ(AgentOf(prometheus).ops.metrics_listen, "0.0.0.0:9621");
  EXPECT_EQ(AgentOf(Agent({"--prometheus-listen-addr=127.0.0.1:9622"})).ops.metrics_listen,
            "127.0.0.1:9622");
  ExpectUsageError({"--prometheus-listen-addr="}, "--prometheus-listen-addr");
  ExpectUsageError({"--metrics-port=9543", "--metrics-listen=0.0.0.0:9620"}, "disagree");
  ExpectUsageError({"--metrics-port=x"}, "--metrics-port");
}

TEST(CompatFlagsTest, SessionLifetime) {
  // kube2iam asks for 2*TTL and refreshes when one TTL is left.
  auto ttl = Agent({"--iam-role-session-ttl=20m"});
  EXPECT_PARSES(ttl);
  EXPECT_EQ(AgentOf(ttl).sessions.session_duration, std::chrono::minutes(40));
  EXPECT_EQ(AgentOf(ttl).sessions.refresh_before, std::chrono::minutes(20));
  EXPECT_THAT(AgentOf(ttl).compat_warnings, IsEmpty());
  // kube2iam's default TTL leaves no room before podiam's 15 min minimum served lifetime.
  auto tight = Agent({"--iam-role-session-ttl=15m"});
  EXPECT_EQ(AgentOf(tight).sessions.session_duration, std::chrono::minutes(30));
  EXPECT_THAT(AgentOf(tight).compat_warnings,
              ElementsAre(AllOf(HasSubstr("--iam-role-session-ttl=15m"), HasSubstr("30m"))));
  auto kiam = Agent({"--session-duration=15m", "--session-refresh=5m"});
  EXPECT_EQ(AgentOf(kiam).sessions.session_duration, std::chrono::minutes(15));
  EXPECT_EQ(AgentOf(kiam).sessions.refresh_before, std::chrono::minutes(5));
  EXPECT_PARSES(Agent({"--iam-role-session-ttl=30m", "--session-duration=1h"}));
  ExpectUsageError({"--iam-role-session-ttl=15m", "--session-duration=1h"},
                   "--session-duration=30m");
  ExpectUsageError({"--iam-role-session-ttl=15m", "--refresh-before=10m"}, "disagree");
  ExpectUsageError({"--session-refresh=5m", "--refresh-before=10m"}, "--session-refresh=5m");
  ExpectUsageError({"--iam-role-session-ttl=forever"}, "--iam-role-session-ttl");
  ExpectUsageError({"--session-refresh=soon"}, "--session-refresh");
  // Defaults stay podiam's.
  auto none = Agent({});
  EXPECT_EQ(AgentOf(none).sessions.session_duration, std::chrono::hours(1));
  EXPECT_EQ(AgentOf(none).sessions.refresh_before, std::chrono::minutes(30));
}

TEST(CompatFlagsTest, RolesAndAliases) {
  auto r =
      Agent({"--role-base-arn=arn:aws:iam::1:role/", "--assume-role-arn=arn:aws:iam::1:role/hop"});
  EXPECT_EQ(AgentOf(r).roles.base_role_arn, "arn:aws:iam::1:role/");
  EXPECT_EQ(AgentOf(r).aws.assume_role, "arn:aws:iam::1:role/hop");
  EXPECT_PARSES(
      Agent({"--role-base-arn=arn:aws:iam::1:role/", "--base-role-arn=arn:aws:iam::1:role/"}));
  ExpectUsageError({"--role-base-arn=arn:aws:iam::1:role/", "--base-role-arn=arn:aws:iam::2:role/"},
                   "disagree");
  ExpectUsageError(
      {"--assume-role-arn=arn:aws:iam::1:role/a", "--assume-role=arn:aws:iam::1:role/b"},
      "--assume-role");
  ExpectUsageError({"--role-base-arn-autodetect", "--auto-discover-base-arn=false"}, "disagree");
  // kube2iam's --auto-discover-default-role: the base ARN part is honoured, the default role not.
  auto discover = Agent({"--auto-discover-default-role"});
  EXPECT_TRUE(AgentOf(discover).roles.auto_discover_base_arn);
  EXPECT_TRUE(AgentOf(discover).roles.default_role.empty());
  EXPECT_THAT(WarningFor(discover, "--auto-discover-default-role"), HasSubstr("--default-role"));
}

TEST(CompatFlagsTest, NodeNetworking) {
  auto kiam = Agent({"--iptables", "--host=10.0.0.7", "--host-interface=cali+"});
  EXPECT_TRUE(AgentOf(kiam).hostnet.iptables);
  EXPECT_EQ(AgentOf(kiam).hostnet.host_ip, "10.0.0.7");
  EXPECT_FALSE(AgentOf(kiam).hostnet.iptables_remove_on_exit);
  ExpectUsageError({"--host=10.0.0.7", "--host-ip=10.0.0.8"}, "disagree");
  ExpectUsageError({"--iptables", "--no-iptables"}, "--no-iptables");
  ExpectUsageError({"--iptables-remove", "--iptables-remove-on-exit=false"}, "disagree");

  // kiam's --host defaults to $HOST_IP; an explicit flag wins without a conflict.
  ::setenv("HOST_IP", "10.0.0.9", 1);  // NOLINT(concurrency-mt-unsafe): single-threaded test
  auto env = Agent({"--iptables", "--host-interface=cni0"});
  auto flag = Agent({"--host-ip=10.0.0.8"});
  ::unsetenv("HOST_IP");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(AgentOf(env).hostnet.host_ip, "10.0.0.9");
  EXPECT_EQ(AgentOf(flag).hostnet.host_ip, "10.0.0.8");
  EXPECT_TRUE(AgentOf(Agent({})).hostnet.host_ip.empty());

  // kube2iam and kiam default --host-interface to docker0.
  auto docker = Agent({"--iptables=true", "--host-ip=10.0.0.5"});
  EXPECT_EQ(AgentOf(docker).hostnet.host_interface, "docker0");
  EXPECT_THAT(WarningFor(docker, "--host-interface"), HasSubstr("docker0"));
  EXPECT_EQ(AgentOf(Agent({"--iptables", "--host-interface=cni0"})).hostnet.host_interface, "cni0");
  EXPECT_TRUE(AgentOf(Agent({})).hostnet.host_interface.empty());
}

TEST(CompatFlagsTest, AllowRouteRegexpKeepsKiamsUnanchoredMeaning) {
  EXPECT_EQ(AgentOf(Agent({"--allow-route-regexp=/placement/"})).imds.allow_metadata_path,
            ".*(?:/placement/).*");
  EXPECT_EQ(AgentOf(Agent({"--allow-route-regexp=^$"})).imds.allow_metadata_path, "");
  ExpectUsageError({"--allow-route-regexp="}, "--allow-route-regexp");
  ExpectUsageError({"--allow-route-regexp=/placement/", "--allow-metadata-path=/latest/.*"},
                   "disagree");
}

TEST(CompatFlagsTest, Logging) {
  EXPECT_EQ(Agent({"--level=warn"}).global.log.level, log::Level::kWarn);
  EXPECT_EQ(Agent({"--level", "debug", "--log-level=debug"}).global.log.level, log::Level::kDebug);
  ExpectUsageError({"--level=debug", "--log-level=error"}, "disagree");
  ExpectUsageError({"--level=trace"}, "trace");  // kiam's enum: debug, info, warn, error
  ExpectUsageError({"--json-log", "--log-format=text"}, "disagree");
  EXPECT_PARSES(Agent({"--json-log", "--log-format=json"}));
  // kube2iam: --verbose wins over --log-level.
  EXPECT_EQ(Agent({"--log-level=error", "--verbose"}).global.log.level, log::Level::kDebug);
  // logrus's panic and fatal, in any case, as logrus parses them.
  for (const char* level : {"panic", "fatal", "FATAL"}) {
    auto r = Agent({std::string("--log-level=") + level});
    ASSERT_FALSE(r.exit_code) << r.stderr_text;
    EXPECT_EQ(r.global.log.level, log::Level::kError);
    EXPECT_THAT(AgentOf(r).compat_warnings, IsEmpty());  // a warning would not show at that level
  }
  EXPECT_EQ(ParseCommandLine({"podiam", "--log-level=panic", "server"}).global.log.level,
            log::Level::kError);
  EXPECT_EQ(Agent({"--log-format=JSON"}).global.log.format, log::Format::kJson);
  std::string level = "info";
  TranslateLegacyLogLevel(level);
  EXPECT_EQ(level, "info");
}

TEST(CompatFlagsTest, EachIgnoredFlagWarnsOnceSayingWhatPodiamDoesInstead) {
  struct Case {
    std::vector<std::string> flags;
    std::string needle;  // what podiam does instead
  };
  for (const auto& [flags, needle] :
       std::vector<Case>{{{"--api-server=https://k"}, "--kubeconfig"},
                         {{"--api-token=t"}, "--kubeconfig"},
                         {{"--insecure"}, "--kube-insecure-skip-tls-verify"},
                         {{"--iam-role-error-ttl=1m"}, "backoff"},
                         {{"--cache-resync-period=30m"}, "resourceVersion"},
                         {{"--resolve-duplicate-cache-ips"}, "newest"},
                         {{"--backoff-max-interval=1s"}, "apiserver directly"},
                         {{"--backoff-max-elapsed-time=2s"}, "apiserver directly"},
                         {{"--prometheus-sync-interval=5s"}, "scraped"},
                         {{"--pprof-listen-addr=:9990"}, "pprof"},
                         {{"--allow-ip-query"}, "source address"},
                         {{"--gateway-timeout-creation=1s"}, "calls STS itself"},
                         {{"--session=kiam"}, "session-name"},
                         {{"--disable-strict-namespace-regexp"}, "anchors"},
                         {{"--sync=1m"}, "resourceVersion"},
                         {{"--fetchers=8"}, "prefetches"},
                         {{"--prefetch-buffer-size=1000"}, "prefetches"},
                         {{"--bind=0.0.0.0:443"}, "calls STS itself"}}) {
    auto r = Agent(flags);
    ASSERT_FALSE(r.exit_code) << r.stderr_text;
    std::string flag = flags.front().substr(0, flags.front().find('='));
    ASSERT_THAT(AgentOf(r).compat_warnings, SizeIs(1)) << flag;
    EXPECT_THAT(AgentOf(r).compat_warnings.front(),
                AllOf(HasSubstr(flag + " ignored: "), HasSubstr(needle), Not(HasSubstr("\n"))));
  }
  // Flags with the same explanation share one line.
  auto tls = Agent({"--server-address-refresh=1m", "--gateway-timeout-creation=1s"});
  EXPECT_THAT(AgentOf(tls).compat_warnings,
              ElementsAre(HasSubstr("--server-address-refresh, --gateway-timeout-creation "
                                    "ignored: ")));
  // An empty value is a usage error that names the flag, as for any flag taking a value.
  ExpectUsageError({"--api-server="}, "--api-server");
}

TEST(CompatFlagsTest, PodiamFlagsAloneGiveNoWarnings) {
  auto r = Agent({"--node=n1", "--listen=0.0.0.0:8181", "--iptables", "--host-interface=cni0",
                  "--host-ip=10.0.0.5", "--log-level=debug"});
  EXPECT_PARSES(r);
  EXPECT_THAT(AgentOf(r).compat_warnings, IsEmpty());
}

TEST(CompatFlagsTest, ConflictWithPodiamFlagFromEnvironment) {
  ::setenv("PODIAM_LISTEN", "0.0.0.0:9000", 1);  // NOLINT(concurrency-mt-unsafe)
  auto r = Agent({"--app-port=8181"});
  ::unsetenv("PODIAM_LISTEN");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_THAT(r.stderr_text, AllOf(HasSubstr("--app-port=8181"), HasSubstr("--listen")));
}

TEST(CompatFlagsTest, VersionAndHelpAtTheAgentLevel) {
  auto v = Agent({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.stdout_text, "podiam " + std::string(Version()) + "\n");
  auto h = Agent({"--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.stdout_text, HasSubstr(kCompatGroup));
  EXPECT_THAT(h.stdout_text, HasSubstr("--app-port"));
  EXPECT_THAT(h.stdout_text, HasSubstr("--no-iptables-remove"));
  // The legacy group comes after podiam's own flags.
  EXPECT_LT(h.stdout_text.find("--base-role-arn"), h.stdout_text.find(kCompatGroup));
}

// The args kube2iam's Helm chart and kiam's (its agent DaemonSet) render with default values.
TEST(CompatFlagsTest, PublishedChartDefaults) {
  auto kube2iam = Agent({"--host-interface=docker0", "--node=node-1", "--iptables=false",
                         "--app-port=8181", "--metrics-port=8181"});
  ASSERT_FALSE(kube2iam.exit_code) << kube2iam.stderr_text;
  EXPECT_EQ(AgentOf(kube2iam).listener.listen, "0.0.0.0:8181");
  EXPECT_THAT(AgentOf(kube2iam).compat_warnings, ElementsAre(HasSubstr("--metrics-port=8181")));

  auto kiam = Agent({"--no-iptables-remove", "--host-interface=cali+", "--json-log", "--level=info",
                     "--port=8181", "--cert=/etc/kiam/tls/cert", "--key=/etc/kiam/tls/key",
                     "--ca=/etc/kiam/tls/ca", "--server-address=kiam-server:443",
                     "--prometheus-listen-addr=0.0.0.0:9620", "--prometheus-sync-interval=5s",
                     "--gateway-timeout-creation=1s"});
  ASSERT_FALSE(kiam.exit_code) << kiam.stderr_text;
  EXPECT_EQ(AgentOf(kiam).listener.listen, "0.0.0.0:8181");
  EXPECT_EQ(AgentOf(kiam).ops.metrics_listen, "0.0.0.0:9620");
  EXPECT_EQ(kiam.global.log.format, log::Format::kJson);
  EXPECT_FALSE(AgentOf(kiam).hostnet.iptables_remove_on_exit);
  // kiam's --server-address selects server mode (cli/server_flags.hpp), with its TLS files.
  EXPECT_THAT(AgentOf(kiam).server.urls, ElementsAre("https://kiam-server:443"));
  EXPECT_EQ(AgentOf(kiam).server.ca_file, "/etc/kiam/tls/ca");
  EXPECT_THAT(AgentOf(kiam).compat_warnings,
              ElementsAre(HasSubstr("--server-address=kiam-server:443: the agent asks a podiam "
                                    "server"),
                          HasSubstr("--prometheus-sync-interval ignored"),
                          HasSubstr("--gateway-timeout-creation ignored")));
}

}  // namespace
}  // namespace podiam::cli
