#include "podiam/cli/flag_groups.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Invocation Checked(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"podiam", "agent"});
  return ParseAndCheck(flags);
}

// A usage error found by the checks: exit 2, one line starting "podiam: ", naming `needle`.
void ExpectCheckError(const std::vector<std::string>& flags, const std::string& needle) {
  auto r = Checked(flags);
  EXPECT_EQ(r.exit_code, kExitUsage) << flags.front();
  EXPECT_EQ(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n'), 1) << r.stderr_text;
  EXPECT_TRUE(r.stderr_text.starts_with("podiam: ")) << r.stderr_text;
  EXPECT_THAT(r.stderr_text, HasSubstr(needle));
}

TEST(FlagGroupsTest, DefaultsPassEveryCheck) {
  auto r = Checked({});
  EXPECT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(r.command(), Command::kAgent);
}

TEST(FlagGroupsTest, AddressesAreCheckedAtParseTime) {
  ExpectCheckError({"--listen", "nowhere"}, "--listen must be ADDRESS:PORT, got 'nowhere'");
  ExpectCheckError({"--metrics-listen", "0.0.0.0:http"}, "--metrics-listen has an invalid port");
  EXPECT_FALSE(Checked({"--listen", "[::]:8181"}).exit_code);
}

TEST(FlagGroupsTest, ArnsAndUrlsAreCheckedAtParseTime) {
  ExpectCheckError({"--base-role-arn", "arn:aws:iam::12:role/"}, "--base-role-arn");
  ExpectCheckError({"--assume-role", "hop"}, "--assume-role");
  ExpectCheckError({"--sts-endpoint", "sts.example"}, "--sts-endpoint");
  ExpectCheckError({"--region", "Mars"}, "--region");
  EXPECT_FALSE(Checked({"--base-role-arn", "arn:aws-cn:iam::123456789012:role/k8s/",
                        "--assume-role", "arn:aws:iam::123456789012:role/hop", "--session-duration",
                        "1h", "--sts-endpoint", "http://127.0.0.1:5000/", "--region", "eu-west-1"})
                   .exit_code);
}

TEST(FlagGroupsTest, SessionLifetimeIsCheckedAtParseTime) {
  ExpectCheckError({"--session-duration", "15m"}, "at least 50m");
  ExpectCheckError({"--session-duration", "13h"}, "at most 12h");
  ExpectCheckError(
      {"--session-duration", "2h", "--assume-role", "arn:aws:iam::123456789012:role/hop"},
      "role chaining");
  // kube2iam's TTL flag is translated first, then checked like the flags it stands for.
  ExpectCheckError({"--iam-role-session-ttl=15m"}, "--session-duration 30m is too short");
  EXPECT_FALSE(Checked({"--session-duration", "25m", "--refresh-before", "5m"}).exit_code);
}

TEST(FlagGroupsTest, ChoicesAreTypedAndOthersAreUsageErrors) {
  auto r = Checked({"--namespace-restriction-format", "regexp", "--session-scope",
                    "service-account", "--imdsv1", "deny"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = std::get<AgentInvocation>(r.subcommand).config;
  EXPECT_EQ(c.roles.namespace_restriction_format, identity::RestrictionFormat::kRegexp);
  EXPECT_EQ(c.sessions.session_scope, identity::SessionScope::kServiceAccount);
  EXPECT_FALSE(c.imds.imdsv1);
  auto bad = Checked({"--namespace-restriction-format", "Regexp"});
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_THAT(bad.stderr_text,
              AllOf(HasSubstr("--namespace-restriction-format"), HasSubstr("Regexp")));
}

TEST(FlagGroupsTest, AGroupRegistersOnAnySubcommand) {
  CLI::App app;
  KubeFlags kube;
  OpsFlags ops{.metrics_listen = "127.0.0.1:9999"};  // a subcommand's own default
  AddKubeFlags(app, kube);
  AddOpsFlags(app, ops);
  app.parse(std::vector<std::string>{"/k", "--kubeconfig"});  // reversed, as CLI11 takes them
  EXPECT_EQ(kube.kubeconfig, "/k");
  EXPECT_EQ(ops.metrics_listen, "127.0.0.1:9999");
  EXPECT_THAT(app.help(), HasSubstr("127.0.0.1:9999"));
  EXPECT_TRUE(CheckOpsFlags(ops));
}

}  // namespace
}  // namespace podiam::cli
