#include "podiam/cli/vault_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const VaultConfig& Vault(const Invocation& inv) {
  return std::get<AgentInvocation>(inv.subcommand).config.vault;
}

TEST(VaultFlagsTest, DefaultIsSts) {
  auto inv = ParseAndCheck({"podiam", "agent"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = Vault(inv);
  EXPECT_EQ(c.credential_source, "sts");
  EXPECT_EQ(c.auth_mount, "kubernetes");
  EXPECT_EQ(c.aws_mount, "aws");
  EXPECT_EQ(c.credential_type, "assumed_role");
  EXPECT_EQ(c.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_FALSE(c.revoke_on_shutdown);
}

TEST(VaultFlagsTest, EveryFlag) {
  auto inv = ParseAndCheck({"podiam", "agent", "--credential-source=vault",
                            "--vault-addr=https://vault:8200", "--vault-auth-mount=k8s/east",
                            "--vault-auth-role=podiam-agent", "--vault-aws-mount=aws2",
                            "--vault-token-file=/t", "--vault-ca=/ca.pem", "--vault-role-map",
                            "arn:aws:iam::123456789012:role/app=app-v", "--vault-role-map",
                            "arn:aws:iam::123456789012:role/db=db",
                            "--vault-credential-type=iam_user", "--vault-revoke-on-shutdown"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = Vault(inv);
  EXPECT_EQ(c.credential_source, "vault");
  EXPECT_EQ(c.addr, "https://vault:8200");
  EXPECT_EQ(c.auth_mount, "k8s/east");
  EXPECT_EQ(c.auth_role, "podiam-agent");
  EXPECT_EQ(c.aws_mount, "aws2");
  EXPECT_EQ(c.token_file, "/t");
  EXPECT_EQ(c.ca_file, "/ca.pem");
  EXPECT_THAT(c.role_map, ElementsAre("arn:aws:iam::123456789012:role/app=app-v",
                                      "arn:aws:iam::123456789012:role/db=db"));
  EXPECT_EQ(c.credential_type, "iam_user");
  EXPECT_TRUE(c.revoke_on_shutdown);
}

void ExpectUsageError(const std::vector<std::string>& args, std::string_view text) {
  auto inv = ParseAndCheck(args);
  ASSERT_TRUE(inv.exit_code) << args.back();
  EXPECT_EQ(*inv.exit_code, kExitUsage);
  EXPECT_THAT(inv.stderr_text, HasSubstr(std::string(text))) << args.back();
}

TEST(VaultFlagsTest, ParseTimeErrors) {
  const std::vector<std::string> base = {"podiam", "agent", "--credential-source=vault",
                                         "--vault-addr=http://127.0.0.1:8200",
                                         "--vault-auth-role=podiam"};
  auto with = [&base](std::string flag) {
    auto args = base;
    args.push_back(std::move(flag));
    return args;
  };
  ExpectUsageError({"podiam", "agent", "--credential-source=kms"}, "--credential-source");
  ExpectUsageError({"podiam", "agent", "--credential-source=vault"}, "--vault-addr");
  ExpectUsageError({"podiam", "agent", "--credential-source=vault", "--vault-addr=http://v"},
                   "--vault-auth-role");
  ExpectUsageError({"podiam", "agent", "--vault-addr=http://v"}, "--credential-source");
  ExpectUsageError(with("--vault-addr=ftp://v"), "--vault-addr");
  ExpectUsageError(with("--vault-addr=http://v/v1/"), "--vault-addr");
  ExpectUsageError(with("--vault-aws-mount=../sys"), "--vault-aws-mount");
  ExpectUsageError(with("--vault-auth-mount=a?b"), "--vault-auth-mount");
  ExpectUsageError(with("--vault-auth-role=a/b"), "--vault-auth-role");
  ExpectUsageError(with("--vault-credential-type=session_token"), "--vault-credential-type");
  ExpectUsageError(with("--vault-role-map=arn:aws:iam::123456789012:role/app"), "--vault-role-map");
  ExpectUsageError(with("--vault-token-file="), "--vault-token-file");
  ExpectUsageError(with("--server=https://podiam-server.kube-system:8443"),
                   "--server and --credential-source vault exclude each other");
  auto ok = ParseAndCheck(base);
  EXPECT_FALSE(ok.exit_code) << ok.stderr_text;
}

}  // namespace
}  // namespace podiam::cli
