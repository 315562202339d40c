#include "podiam/cli/explain_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::HasSubstr;

TEST(ExplainFlagsTest, PolicyTakesTheRoleFlagsAndTheNamespaceAnnotations) {
  auto r = ParseAndCheck({"podiam", "explain", "policy", "--role", "app", "--namespace", "team-a",
                          "--base-role-arn", "arn:aws:iam::123456789012:role/", "--allowed-roles",
                          "[]", "-o", "json"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = std::get<ExplainInvocation>(r.subcommand).config;
  EXPECT_EQ(c.action, "policy");
  EXPECT_EQ(c.role, "app");
  EXPECT_EQ(c.allowed_roles, "[]");
  EXPECT_FALSE(c.permitted);
  EXPECT_EQ(c.output, "json");
  EXPECT_EQ(c.roles.base_role_arn, "arn:aws:iam::123456789012:role/");
}

TEST(ExplainFlagsTest, PodTakesNamespaceSlashName) {
  auto r = ParseAndCheck({"podiam", "explain", "pod", "team-a/web-1", "--kubeconfig", "/k"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  EXPECT_EQ(std::get<ExplainInvocation>(r.subcommand).config.pod, "team-a/web-1");
  EXPECT_FALSE(std::get<ExplainInvocation>(r.subcommand).config.allow_no_external_id);

  r = ParseAndCheck({"podiam", "explain", "pod", "team-a/web-1", "--cluster-name", "prod",
                     "--allow-no-external-id"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = std::get<ExplainInvocation>(r.subcommand).config;
  EXPECT_EQ(c.cluster_name, "prod");
  EXPECT_TRUE(c.allow_no_external_id);
}

TEST(ExplainFlagsTest, TrustTakesThePathInputsAndCheck) {
  auto r = ParseAndCheck({"podiam", "explain", "trust", "--role",
                          "arn:aws:iam::123456789012:role/app", "--path", "irsa", "--issuer",
                          "https://oidc.example.com", "--namespace", "ns", "--service-account",
                          "web", "--check", "--iam-endpoint", "http://127.0.0.1:1/", "-o", "json"});
  ASSERT_FALSE(r.exit_code) << r.stderr_text;
  const auto& c = std::get<ExplainInvocation>(r.subcommand).config;
  EXPECT_EQ(c.action, "trust");
  EXPECT_EQ(c.trust_role, "arn:aws:iam::123456789012:role/app");
  EXPECT_EQ(c.trust_path, "irsa");
  EXPECT_EQ(c.namespace_name, "ns");
  EXPECT_EQ(c.service_account, "web");
  EXPECT_EQ(c.audience, "sts.amazonaws.com");
  EXPECT_TRUE(c.check);
  EXPECT_EQ(c.iam_endpoint, "http://127.0.0.1:1/");
  EXPECT_EQ(c.output, "json");
}

TEST(ExplainFlagsTest, UsageErrorsAreOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"podiam", "explain"},
           {"podiam", "explain", "policy", "--role", "app"},
           {"podiam", "explain", "policy", "--namespace", "a", "-o", "yaml"},
           {"podiam", "explain", "policy", "--namespace", "a", "--base-role-arn", "nope"},
           {"podiam", "explain", "policy", "--namespace", "a", "--auto-discover-base-arn"},
           {"podiam", "explain", "pod", "web-1"},
           {"podiam", "explain", "pod", "a/b/c"},
           {"podiam", "explain", "trust", "--path", "imds"},
           {"podiam", "explain", "trust", "--role", "arn:aws:iam::1:role/a", "--path", "ec2"},
           {"podiam", "explain", "trust", "--role", "x", "--path", "irsa", "--partition", "mars"},
       }) {
    auto r = ParseAndCheck(args);
    EXPECT_EQ(r.exit_code, kExitUsage) << args.back();
    EXPECT_THAT(r.stderr_text, HasSubstr("podiam: ")) << args.back();
    EXPECT_EQ(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n'), 1) << r.stderr_text;
  }
}

}  // namespace
}  // namespace podiam::cli
