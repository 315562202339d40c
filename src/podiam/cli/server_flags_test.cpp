#include "podiam/cli/server_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <variant>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Invocation Agent(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"podiam", "agent", "--node=n1"});
  return ParseAndCheck(flags);
}

ServerSourceFlags ServerOf(const Invocation& inv) {
  const auto* agent = std::get_if<AgentInvocation>(&inv.subcommand);
  if (agent == nullptr) {
    ADD_FAILURE() << "not an agent invocation: " << inv.stderr_text;
    return {};
  }
  return agent->config.server;
}

std::vector<std::string> WarningsOf(const Invocation& inv) {
  const auto* agent = std::get_if<AgentInvocation>(&inv.subcommand);
  return agent != nullptr ? agent->config.compat_warnings : std::vector<std::string>{};
}

void ExpectUsageError(const std::vector<std::string>& flags, const std::string& needle) {
  auto r = Agent(flags);
  EXPECT_EQ(r.exit_code, kExitUsage) << flags.front();
  EXPECT_THAT(r.stderr_text, HasSubstr(needle)) << flags.front();
}

TEST(ServerFlagsTest, DefaultIsStsWithTheProjectedTokenPath) {
  auto r = Agent({});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_THAT(ServerOf(r).urls, IsEmpty());
  EXPECT_EQ(ServerOf(r).token_file, "/var/run/secrets/podiam/server/token");
}

TEST(ServerFlagsTest, ServerUrlsCommaSeparatedAndRepeated) {
  auto r = Agent({"--server=https://a:8443,https://b:8443", "--server", "https://c",
                  "--server-ca=/ca.pem", "--server-token-file=/t", "--server-cert=/c.pem",
                  "--server-key=/k.pem"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  auto s = ServerOf(r);
  EXPECT_THAT(s.urls, ElementsAre("https://a:8443", "https://b:8443", "https://c"));
  EXPECT_EQ(s.ca_file, "/ca.pem");
  EXPECT_EQ(s.token_file, "/t");
  EXPECT_EQ(s.cert_file, "/c.pem");
  EXPECT_EQ(s.key_file, "/k.pem");
  EXPECT_THAT(WarningsOf(r), IsEmpty());
}

TEST(ServerFlagsTest, ServerServiceAloneOrWithUrlsSelectsServerMode) {
  auto r = Agent({"--server-service=kube-system/podiam-server", "--server-ca=/ca.pem"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(ServerOf(r).service, "kube-system/podiam-server");
  EXPECT_TRUE(ServerOf(r).enabled());
  EXPECT_THAT(ServerOf(r).urls, IsEmpty());
  r = Agent({"--server=https://a", "--server-service=kube-system/podiam-server:https"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(ServerOf(r).service, "kube-system/podiam-server:https");
  ExpectUsageError({"--server-service=podiam-server"}, "--server-service podiam-server");
  ExpectUsageError({"--server-service=ns/svc:0"}, "port out of range");
}

TEST(ServerFlagsTest, FromTheEnvironment) {
  ::setenv("PODIAM_SERVER", "https://a:8443,https://b:8443", 1);  // NOLINT(concurrency-mt-unsafe)
  auto r = Agent({});
  ::unsetenv("PODIAM_SERVER");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_THAT(ServerOf(r).urls, ElementsAre("https://a:8443", "https://b:8443"));
}

TEST(ServerFlagsTest, ParseTimeErrors) {
  ExpectUsageError({"--server=http://a:8443"}, "https only");
  ExpectUsageError({"--server=a:8443"}, "--server a:8443");
  ExpectUsageError({"--server=https://a:8443/v1"}, "without a path");
  ExpectUsageError({"--server=https://a:8443", "--server-cert=/c.pem"}, "go together");
  ExpectUsageError({"--server=https://a:8443", "--server-token-file="}, "--server-token-file");
  ExpectUsageError({"--server-ca=/ca.pem"}, "--server-ca needs --server");
  ExpectUsageError({"--server-key=/k.pem"}, "--server-key needs --server");
}

TEST(ServerFlagsTest, KiamAgentFlagsSelectServerMode) {
  auto r = Agent({"--server-address=kiam-server:443", "--cert=/etc/kiam/tls/cert",
                  "--key=/etc/kiam/tls/key", "--ca=/etc/kiam/tls/ca"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  auto s = ServerOf(r);
  EXPECT_THAT(s.urls, ElementsAre("https://kiam-server:443"));
  EXPECT_EQ(s.cert_file, "/etc/kiam/tls/cert");
  EXPECT_EQ(s.key_file, "/etc/kiam/tls/key");
  EXPECT_EQ(s.ca_file, "/etc/kiam/tls/ca");
  EXPECT_THAT(WarningsOf(r),
              ElementsAre(HasSubstr("--server-address=kiam-server:443: the agent asks a podiam "
                                    "server at https://kiam-server:443")));
  auto dns = Agent({"--server-address=dns:///kiam-server:443"});
  ASSERT_FALSE(dns.exit_code) << dns.stderr_text;
  EXPECT_THAT(ServerOf(dns).urls, ElementsAre("https://kiam-server:443"));
}

TEST(ServerFlagsTest, KiamTlsFlagsWithoutAServerAreIgnored) {
  auto r = Agent({"--cert=/c", "--key=/k", "--ca=/a"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_THAT(ServerOf(r).urls, IsEmpty());
  EXPECT_EQ(ServerOf(r).ca_file, "");
  EXPECT_THAT(WarningsOf(r),
              ElementsAre(HasSubstr("--cert, --key, --ca ignored: without --server")));
}

TEST(ServerFlagsTest, KiamAndPodiamFlagsMustAgree) {
  ExpectUsageError({"--server=https://a:8443", "--server-address=b:443"}, "disagree");
  ExpectUsageError({"--server=https://a:8443", "--server-ca=/x", "--ca=/y"}, "disagree");
  auto same = Agent({"--server=https://a:8443", "--server-ca=/x", "--ca=/x"});
  ASSERT_FALSE(same.exit_code) << same.stderr_text;
  EXPECT_EQ(ServerOf(same).ca_file, "/x");
  auto kiam_ca = Agent({"--server=https://a:8443", "--ca=/y"});
  ASSERT_FALSE(kiam_ca.exit_code) << kiam_ca.stderr_text;
  EXPECT_EQ(ServerOf(kiam_ca).ca_file, "/y");
}

}  // namespace
}  // namespace podiam::cli
