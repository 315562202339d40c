#include "podiam/cli/oidc_flags.hpp"

#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

TEST(OidcFlags, RenderParses) {
  auto inv = ParseCommandLine({"podiam", "oidc", "render", "--issuer", "https://o.example.com/c",
                               "--key", "/etc/hostname", "--key", "/etc/hostname", "--out", "d"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_EQ(inv.command(), Command::kOidc);
  EXPECT_EQ(std::get<OidcInvocation>(inv.subcommand).config.action, "render");
  EXPECT_EQ(std::get<OidcInvocation>(inv.subcommand).config.keys.size(), 2U);
  EXPECT_EQ(std::get<OidcInvocation>(inv.subcommand).config.out, "d");
}

TEST(OidcFlags, UsageErrorsAreOneLineExit2) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"podiam", "oidc"},
        {"podiam", "oidc", "render", "--issuer", "https://o.example.com:1", "--key",
         "/etc/hostname", "--out", "d"},
        {"podiam", "oidc", "render", "--issuer", "https://o.example.com", "--out", "d"},
        {"podiam", "oidc", "serve", "--issuer", "https://o.example.com", "--key", "/etc/hostname"},
        {"podiam", "iam", "create-role", "--name", "r", "--issuer", "https://o.example.com",
         "--service-account", "a/b/c"},
        {"podiam", "iam", "create-oidc-provider", "--issuer", "https://o.example.com",
         "--thumbprint", "abc"},
        {"podiam", "iam", "trust-policy", "--issuer", "https://o.example.com", "--service-account",
         "a/b", "--account-id", "12"}}) {
    auto inv = ParseCommandLine(args);
    ASSERT_TRUE(inv.exit_code) << args.back();
    EXPECT_EQ(*inv.exit_code, kExitUsage) << args.back();
    EXPECT_EQ(inv.stderr_text.find('\n'), inv.stderr_text.size() - 1) << inv.stderr_text;
  }
}

TEST(OidcFlags, IamDefaultsAndEnvironmentNames) {
  auto inv = ParseCommandLine({"podiam", "iam", "trust-policy", "--issuer",
                               "https://o.example.com/c", "--service-account", "ns/app"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_EQ(inv.command(), Command::kIam);
  EXPECT_EQ(std::get<IamInvocation>(inv.subcommand).config.action, "trust-policy");
  EXPECT_EQ(std::get<IamInvocation>(inv.subcommand).config.audiences,
            std::vector<std::string>{"sts.amazonaws.com"});
  auto p =
      ParseCommandLine({"podiam", "iam", "trust-policy", "--principal", "arn:aws:iam::1:role/x"});
  ASSERT_FALSE(p.exit_code) << p.stderr_text;
}

}  // namespace
}  // namespace podiam::cli
