#include "podiam/cli/command_line.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace podiam::cli {
namespace {

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
  EXPECT_EQ(r.command, Command::kAgent);
  EXPECT_EQ(r.global.log.format, log::Format::kJson);
  EXPECT_EQ(r.global.log.level, log::Level::kDebug);
}

TEST(CommandLineTest, FlagsComeFromTheEnvironment) {
  ::setenv("PODIAM_LOG_FORMAT", "json", 1);  // NOLINT(concurrency-mt-unsafe): single-threaded test
  auto r = ParseCommandLine({"podiam", "explain"});
  ::unsetenv("PODIAM_LOG_FORMAT");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(r.global.log.format, log::Format::kJson);

  ::setenv("PODIAM_LOG_LEVEL", "chatty", 1);  // NOLINT(concurrency-mt-unsafe)
  auto bad = ParseCommandLine({"podiam", "explain"});
  ::unsetenv("PODIAM_LOG_LEVEL");  // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_THAT(bad.stderr_text, Not(HasSubstr("\n\n")));
}

TEST(CommandLineTest, EnvNames) {
  EXPECT_EQ(EnvNameForFlag("--base-role-arn"), "PODIAM_BASE_ROLE_ARN");
  EXPECT_EQ(EnvNameForFlag("--iptables"), "PODIAM_IPTABLES");
}

}  // namespace
}  // namespace podiam::cli
