#include "podiam/cli/command_line.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <variant>

namespace podiam::cli {
namespace {

// The agent's config; the defaults when the command line did not parse as `agent` (as the
// checks below have always read it: a few read defaults after a usage error).
const AgentConfig& AgentOf(const Invocation& inv) {
  static const AgentConfig kDefaults;
  const auto* agent = std::get_if<AgentInvocation>(&inv.subcommand);
  return agent != nullptr ? agent->config : kDefaults;
}

using ::testing::HasSubstr;
using ::testing::Not;

int NewlineCount(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(CommandLineTest, VersionAndHelpExitZero) {
  auto v = ParseCommandLine({"podiam", "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.stdout_text, "podiam 0.1.0\n");
  auto h = ParseCommandLine({"podiam", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_THAT(h.stdout_text, HasSubstr("agent"));
  EXPECT_THAT(h.stdout_text, HasSubstr("PODIAM_LOG_FORMAT"));
  auto none = ParseCommandLine({"podiam"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_THAT(none.stdout_text, HasSubstr("explain"));
}

TEST(CommandLineTest, VersionSubcommandPrintsBuildInformation) {
  auto v = ParseCommandLine({"podiam", "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(v.stdout_text.starts_with("podiam 0.1.0\ncommit: ")) << v.stdout_text;
  EXPECT_THAT(v.stdout_text, HasSubstr("\nbuild type: "));
  EXPECT_THAT(v.stdout_text, HasSubstr("\ncompiler: "));
  EXPECT_THAT(v.stdout_text, HasSubstr("\nsanitizers: "));
  EXPECT_EQ(v.stdout_text.back(), '\n');
  EXPECT_TRUE(v.stderr_text.empty());
  // It takes no arguments: anything after it is a usage error.
  auto extra = ParseCommandLine({"podiam", "version", "--short"});
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_EQ(NewlineCount(extra.stderr_text), 1);
  auto help = ParseCommandLine({"podiam", "--help"});
  EXPECT_THAT(help.stdout_text, HasSubstr("podiam version"));
}

TEST(CommandLineTest, UnknownFlagIsOneLineAndExitTwo) {
  auto r = ParseCommandLine({"podiam", "--frobnicate"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(NewlineCount(r.stderr_text), 1);
  EXPECT_THAT(r.stderr_text, HasSubstr("--frobnicate"));
}

TEST(CommandLineTest, MalformedValueIsOneLineAndExitTwo) {
  auto r = ParseCommandLine({"podiam", "--log-level=loud", "agent"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(NewlineCount(r.stderr_text), 1);
  EXPECT_THAT(r.stderr_text, HasSubstr("loud"));
  auto missing = ParseCommandLine({"podiam", "--log-format"});
  EXPECT_EQ(missing.exit_code, kExitUsage);
  auto unknown_cmd = ParseCommandLine({"podiam", "teleport"});
  EXPECT_EQ(unknown_cmd.exit_code, kExitUsage);
}

TEST(CommandLineTest, SubcommandAndGlobalFlagsInAnyOrder) {
  auto r = ParseCommandLine({"podiam", "agent", "--log-format", "json", "--log-level=debug"});
  EXPECT_FALSE(r.exit_code);
  EXPECT_EQ(r.command(), Command::kAgent);
  EXPECT_EQ(r.global.log.format, log::Format::kJson);
  EXPECT_EQ(r.global.log.level, log::Level::kDebug);
}

TEST(CommandLineTest, FlagsComeFromTheEnvironment) {
  ::setenv("PODIAM_LOG_FORMAT", "json", 1);  // NOLINT(concurrency-mt-unsafe): single-threaded test
  auto r = ParseCommandLine({"podiam", "server"});
  ::unsetenv("PODIAM_LOG_FORMAT");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(r.global.log.format, log::Format::kJson);

  ::setenv("PODIAM_LOG_LEVEL", "chatty", 1);  // NOLINT(concurrency-mt-unsafe)
  auto bad = ParseCommandLine({"podiam", "server"});
  ::unsetenv("PODIAM_LOG_LEVEL");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_THAT(bad.stderr_text, Not(HasSubstr("\n\n")));
}

TEST(CommandLineTest, AgentFlagsWithKube2iamNames) {
  auto r = ParseCommandLine({"podiam",
                             "agent",
                             "--base-role-arn",
                             "arn:aws:iam::123456789012:role/",
                             "--default-role",
                             "fallback",
                             "--namespace-restrictions=false",
                             "--namespace-restriction-format",
                             "regexp",
                             "--session-duration",
                             "2h",
                             "--refresh-before",
                             "45m",
                             "--imdsv1",
                             "deny",
                             "--iptables",
                             "--host-interface",
                             "cali+",
                             "--host-ip",
                             "10.0.0.5"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(AgentOf(r).roles.base_role_arn, "arn:aws:iam::123456789012:role/");
  EXPECT_EQ(AgentOf(r).roles.default_role, "fallback");
  EXPECT_FALSE(AgentOf(r).roles.namespace_restrictions);
  EXPECT_EQ(AgentOf(r).roles.namespace_restriction_format, identity::RestrictionFormat::kRegexp);
  EXPECT_EQ(AgentOf(r).sessions.session_duration, std::chrono::hours(2));
  EXPECT_EQ(AgentOf(r).sessions.refresh_before, std::chrono::minutes(45));
  EXPECT_FALSE(AgentOf(r).imds.imdsv1);
  EXPECT_TRUE(AgentOf(r).hostnet.iptables);
  EXPECT_FALSE(AgentOf(r).hostnet.iptables_remove_on_exit);
  EXPECT_EQ(AgentOf(r).hostnet.host_interface, "cali+");
}

TEST(CommandLineTest, AgentDefaultsAreSafe) {
  auto r = ParseCommandLine({"podiam", "agent"});
  EXPECT_TRUE(AgentOf(r).roles.namespace_restrictions);
  EXPECT_TRUE(AgentOf(r).roles.default_role.empty());
  EXPECT_FALSE(AgentOf(r).hostnet.iptables_remove_on_exit);
  EXPECT_EQ(AgentOf(r).listener.listen, "0.0.0.0:8181");
  EXPECT_EQ(AgentOf(r).sessions.refresh_before, std::chrono::minutes(30));
  EXPECT_EQ(AgentOf(r).listener.max_connections_per_pod, 128);
  EXPECT_EQ(AgentOf(r).listener.threads, 0);  // one per CPU, at most 4
}

TEST(CommandLineTest, AgentThreads) {
  auto r = ParseCommandLine({"podiam", "agent", "--threads", "1"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(AgentOf(r).listener.threads, 1);
  for (const char* bad : {"-1", "65", "many"}) {
    auto b = ParseCommandLine({"podiam", "agent", "--threads", bad});
    EXPECT_EQ(b.exit_code, kExitUsage) << bad;
    EXPECT_EQ(NewlineCount(b.stderr_text), 1) << b.stderr_text;
  }
}

TEST(CommandLineTest, AgentBadValuesExitTwo) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"podiam", "agent", "--imdsv1", "maybe"},
           {"podiam", "agent", "--session-duration", "forever"},
           {"podiam", "agent", "--namespace-restriction-format", "pcre"},
           {"podiam", "agent", "--namespace-restrictions=perhaps"}}) {
    auto r = ParseCommandLine(args);
    EXPECT_EQ(r.exit_code, kExitUsage) << args.back();
    EXPECT_EQ(NewlineCount(r.stderr_text), 1) << r.stderr_text;
  }
  ::setenv("PODIAM_SESSION_DURATION", "90m", 1);  // NOLINT(concurrency-mt-unsafe)
  auto env = ParseCommandLine({"podiam", "agent"});
  ::unsetenv("PODIAM_SESSION_DURATION");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(AgentOf(env).sessions.session_duration, std::chrono::minutes(90));
}

TEST(CommandLineTest, SubcommandHelpShowsItsFlags) {
  auto r = ParseCommandLine({"podiam", "agent", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.stdout_text, HasSubstr("--base-role-arn"));
  EXPECT_THAT(r.stdout_text, HasSubstr("PODIAM_BASE_ROLE_ARN"));
}

TEST(CommandLineTest, Durations) {
  EXPECT_EQ(ParseDuration("1h30m"), std::chrono::seconds(5400));
  EXPECT_EQ(ParseDuration("900s"), std::chrono::seconds(900));
  EXPECT_EQ(ParseDuration("1d"), std::nullopt);
  EXPECT_EQ(ParseDuration("h"), std::nullopt);
  EXPECT_EQ(ParseDuration("10"), std::nullopt);
  EXPECT_EQ(ParseDuration(""), std::nullopt);
}

TEST(CommandLineTest, EnvNames) {
  EXPECT_EQ(EnvNameForFlag("--base-role-arn"), "PODIAM_BASE_ROLE_ARN");
  EXPECT_EQ(EnvNameForFlag("--iptables"), "PODIAM_IPTABLES");
}

// kube2iam's chart renders only flags (its image's entrypoint is kube2iam): they mean `agent`.
TEST(CommandLineTest, FlagsWithoutASubcommandMeanAgent) {
  auto r = ParseCommandLine(std::vector<std::string>{"podiam", "--host-interface=cali+",
                                                     "--node=n1", "--app-port=8181",
                                                     "--iptables=true", "--host-ip=10.0.0.5"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(r.command(), Command::kAgent);
  EXPECT_EQ(AgentOf(r).node.name, "n1");
  EXPECT_EQ(AgentOf(r).hostnet.host_interface, "cali+");
  // A named subcommand, --help and --version keep their meaning.
  EXPECT_EQ(ParseCommandLine(
                std::vector<std::string>{"podiam", "--log-level", "debug", "agent", "--node", "n1"})
                .command(),
            Command::kAgent);
  auto version = ParseCommandLine(std::vector<std::string>{"podiam", "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.stdout_text.find("podiam "), std::string::npos);
}

}  // namespace
}  // namespace podiam::cli
