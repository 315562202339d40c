#include "podiam/cli/server_command.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <variant>

namespace podiam::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const ServerConfig& Config(const Invocation& r) {
  return std::get<ServerInvocation>(r.subcommand).config;
}

TEST(ServerCommandTest, DefaultsAndOwnFlags) {
  auto r = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = Config(r);
  EXPECT_EQ(c.listen, "0.0.0.0:8443");
  EXPECT_EQ(c.metrics_listen, "");
  EXPECT_THAT(c.token_audiences, ElementsAre("podiam-server"));
  EXPECT_THAT(c.agent_service_accounts, ElementsAre("kube-system:podiam-agent"));
  EXPECT_FALSE(c.allow_unbound_agents);

  auto o =
      ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k", "--ca=/ca",
                     "--listen=127.0.0.1:9443", "--agent-service-account=a:b",
                     "--agent-service-account=c:d", "--token-audience=x", "--allow-unbound-agents",
                     "--default-role=app", "--base-role-arn=arn:aws:iam::123456789012:role/"});
  ASSERT_FALSE(o.exit_code) << o.stderr_text;
  EXPECT_THAT(Config(o).agent_service_accounts, ElementsAre("a:b", "c:d"));
  EXPECT_THAT(Config(o).token_audiences, ElementsAre("x"));
  EXPECT_EQ(Config(o).tls_client_ca, "/ca");
  EXPECT_TRUE(Config(o).allow_unbound_agents);
  EXPECT_EQ(Config(o).roles.default_role, "app");
}

TEST(ServerCommandTest, ShardingFlags) {
  auto r = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& d = Config(r);
  EXPECT_TRUE(d.sharding);
  EXPECT_EQ(d.identity, "");
  EXPECT_EQ(d.membership_namespace, "");
  EXPECT_EQ(d.membership_lease_prefix, "podiam-server");
  EXPECT_EQ(d.membership_lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(d.membership_renew_period, std::chrono::seconds(5));
  EXPECT_EQ(d.peer_token_file, "/var/run/secrets/podiam/server/token");
  EXPECT_THAT(d.peer_service_accounts, ElementsAre("kube-system:podiam-server"));

  auto o = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k", "--sharding=off",
                          "--identity=pod-0", "--membership-namespace=podiam",
                          "--membership-lease-prefix=srv", "--membership-lease-duration=20s",
                          "--membership-renew-period=4s", "--peer-url=https://10.0.0.1:8443",
                          "--peer-ca=/pca", "--peer-token-file=/t", "--peer-service-account=a:b"});
  ASSERT_FALSE(o.exit_code) << o.stderr_text;
  const auto& c = Config(o);
  EXPECT_FALSE(c.sharding);
  EXPECT_EQ(c.identity, "pod-0");
  EXPECT_EQ(c.membership_namespace, "podiam");
  EXPECT_EQ(c.membership_lease_prefix, "srv");
  EXPECT_EQ(c.membership_lease_duration, std::chrono::seconds(20));
  EXPECT_EQ(c.membership_renew_period, std::chrono::seconds(4));
  EXPECT_EQ(c.peer_url, "https://10.0.0.1:8443");
  EXPECT_EQ(c.peer_ca, "/pca");
  EXPECT_EQ(c.peer_token_file, "/t");
  EXPECT_THAT(c.peer_service_accounts, ElementsAre("a:b"));

  for (const char* bad : {"--sharding=maybe", "--peer-service-account=nocolon",
                          "--membership-renew-period=15s", "--peer-url=http://x:1"}) {
    auto b = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k", bad});
    EXPECT_EQ(b.exit_code, 2) << bad;
  }
}

TEST(ServerCommandTest, CertAndKeyAreRequired) {
  auto r = ParseAndCheck({"podiam", "server"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_THAT(r.stderr_text, HasSubstr("--cert and --key are required"));
  EXPECT_EQ(r.command(), Command::kServer);
}

TEST(ServerCommandTest, BadValuesAreOneLineUsageErrors) {
  for (const char* bad : {"--agent-service-account=nocolon", "--agent-service-account=:x",
                          "--listen=nope", "--threads=0", "--session-duration=1m"}) {
    auto r = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k", bad});
    EXPECT_EQ(r.exit_code, kExitUsage) << bad;
    EXPECT_EQ(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n'), 1) << bad;
  }
}

TEST(ServerCommandTest, KiamServerFlags) {
  auto r = ParseAndCheck({"podiam", "server", "--cert=/c", "--key=/k", "--bind=0.0.0.0:9610",
                          "--role-base-arn=arn:aws:iam::123456789012:role/",
                          "--role-base-arn-autodetect", "--session-refresh=10m",
                          "--assume-role-arn=arn:aws:iam::123456789012:role/hop",
                          "--prometheus-listen-addr=0.0.0.0:9620", "--fetchers=8",
                          "--grpc-keepalive-time-duration=10s", "--json-log", "--level=debug"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = Config(r);
  EXPECT_EQ(c.listen, "0.0.0.0:9610");
  EXPECT_EQ(c.roles.base_role_arn, "arn:aws:iam::123456789012:role/");
  EXPECT_TRUE(c.roles.auto_discover_base_arn);
  EXPECT_EQ(c.sessions.refresh_before, std::chrono::minutes(10));
  EXPECT_EQ(c.aws.assume_role, "arn:aws:iam::123456789012:role/hop");
  EXPECT_EQ(c.metrics_listen, "0.0.0.0:9620");
  EXPECT_EQ(c.compat_warnings.size(), 2U);
  EXPECT_EQ(r.global.log.format, log::Format::kJson);
  EXPECT_EQ(r.global.log.level, log::Level::kDebug);
}

TEST(ServerCommandTest, KiamAndPodiamNamesForOneSettingExcludeEachOther) {
  auto r = ParseAndCheck(
      {"podiam", "server", "--cert=/c", "--key=/k", "--bind=0.0.0.0:1", "--listen=0.0.0.0:2"});
  EXPECT_EQ(r.exit_code, kExitUsage);
}

}  // namespace
}  // namespace podiam::cli
