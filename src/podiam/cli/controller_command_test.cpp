#include "podiam/cli/controller_command.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <variant>

namespace podiam::cli {
namespace {

using ::testing::HasSubstr;

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(ControllerCommandTest, DefaultsAndOwnFlags) {
  auto r = ParseAndCheck({"podiam", "controller", "--workers=2", "--zalando-awsiamroles",
                          "--credential-process-command=/opt/podiam credential-process",
                          "--resync=5m", "--cluster-name=prod", "--namespace=team-a"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = std::get<ControllerInvocation>(r.subcommand).config;
  EXPECT_EQ(c.workers, 2);
  EXPECT_TRUE(c.zalando_awsiamroles);
  EXPECT_FALSE(c.allow_no_external_id);
  EXPECT_EQ(c.credential_process_command, "/opt/podiam credential-process");
  EXPECT_EQ(c.resync, std::chrono::minutes(5));
  EXPECT_EQ(c.sessions.cluster_name, "prod");
  EXPECT_EQ(c.namespace_name, "team-a");
  EXPECT_EQ(c.ops.metrics_listen, "0.0.0.0:9623");

  auto d = ParseAndCheck({"podiam", "controller"});
  ASSERT_FALSE(d.exit_code) << d.stderr_text;
  EXPECT_EQ(std::get<ControllerInvocation>(d.subcommand).config.credential_process_command,
            "podiam credential-process");
}

TEST(ControllerCommandTest, BadValuesAreOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"podiam", "controller", "--workers=0"},
           {"podiam", "controller", "--resync=1s"},
           {"podiam", "controller", "--credential-process-command="},
           {"podiam", "controller", "--base-role-arn=nope"},
           {"podiam", "controller", "--session-duration=15m"},
           {"podiam", "controller", "--metrics-listen=nowhere"}}) {
    auto r = ParseAndCheck(args);
    EXPECT_EQ(r.exit_code, kExitUsage) << args.back();
    EXPECT_EQ(Lines(r.stderr_text), 1) << r.stderr_text;
  }
  auto r = ParseAndCheck({"podiam", "controller", "--resync=1s"});
  EXPECT_THAT(r.stderr_text, HasSubstr("--resync"));
}

TEST(ControllerCommandTest, CredentialProcessTakesAFile) {
  auto r = ParseAndCheck({"podiam", "credential-process", "--file=/x/credentials.json"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(std::get<CredentialProcessInvocation>(r.subcommand).config.file, "/x/credentials.json");
  auto d = ParseAndCheck({"podiam", "credential-process"});
  EXPECT_EQ(std::get<CredentialProcessInvocation>(d.subcommand).config.file, "credentials.json");
  EXPECT_EQ(d.command(), Command::kCredentialProcess);
}

}  // namespace
}  // namespace podiam::cli
