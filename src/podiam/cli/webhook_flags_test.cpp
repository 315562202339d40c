#include "podiam/cli/webhook_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::HasSubstr;

TEST(WebhookFlags, DefaultsAreTheReferences) {
  auto inv = ParseCommandLine({"podiam", "webhook"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_EQ(inv.command(), Command::kWebhook);
  const auto& c = std::get<WebhookInvocation>(inv.subcommand).config;
  EXPECT_EQ(c.annotation_prefix, "eks.amazonaws.com");
  EXPECT_EQ(c.token_audience, "sts.amazonaws.com");
  EXPECT_EQ(c.token_mount_path, "/var/run/secrets/eks.amazonaws.com/serviceaccount");
  EXPECT_EQ(c.token_expiration, 86400);
  EXPECT_EQ(c.port, 443);
  EXPECT_EQ(c.metrics_port, 9999);
  EXPECT_TRUE(c.in_cluster);
  EXPECT_FALSE(c.sts_regional_endpoint);
  EXPECT_EQ(c.tls_cert, "/etc/webhook/certs/tls.crt");
  EXPECT_EQ(c.container_credentials_full_uri, "http://169.254.170.23/v1/credentials");
}

TEST(WebhookFlags, ReferenceDeploymentArgumentsParse) {
  auto inv = ParseCommandLine(
      {"podiam", "webhook", "--in-cluster=false", "--namespace=default",
       "--service-name=pod-identity-webhook", "--annotation-prefix=eks.amazonaws.com",
       "--token-audience=sts.amazonaws.com", "--logtostderr", "--sts-regional-endpoint",
       "--token-expiration", "100", "--aws-default-region=eu-west-1", "--port=8443"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = std::get<WebhookInvocation>(inv.subcommand).config;
  EXPECT_FALSE(c.in_cluster);
  EXPECT_TRUE(c.sts_regional_endpoint);
  EXPECT_EQ(c.token_expiration, 600);
  EXPECT_EQ(c.aws_default_region, "eu-west-1");
  EXPECT_EQ(c.port, 8443);
  ASSERT_EQ(c.compat_warnings.size(), 3U);
  EXPECT_THAT(c.compat_warnings[0], HasSubstr("--namespace"));
}

TEST(WebhookFlags, ContainerCredentialsFlags) {
  auto inv = ParseCommandLine(
      {"podiam", "webhook", "--watch-container-credentials-config=/etc/cc.json",
       "--container-credentials-audience=aud", "--container-credentials-token-mount-path=/m",
       "--container-credentials-token-volume-name=v", "--container-credentials-token-path=t",
       "--container-credentials-full-uri=http://127.0.0.1:80/creds"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.watch_container_credentials_config,
            "/etc/cc.json");
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_audience,
            "aud");
  EXPECT_EQ(
      std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_token_mount_path,
      "/m");
  EXPECT_EQ(
      std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_token_volume_name,
      "v");
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_token_path,
            "t");
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_full_uri,
            "http://127.0.0.1:80/creds");
}

TEST(WebhookFlags, RoleAnnotationSelectsContainerCredentialsOnlyWhenAsked) {
  auto inv = ParseCommandLine({"podiam", "webhook"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_FALSE(
      std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_from_annotations);
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.iam_role_key,
            "iam.amazonaws.com/role");
  inv = ParseCommandLine({"podiam", "webhook", "--container-credentials-from-annotations",
                          "--iam-role-key=example.com/role"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_TRUE(
      std::get<WebhookInvocation>(inv.subcommand).config.container_credentials_from_annotations);
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.iam_role_key, "example.com/role");
  inv = ParseCommandLine({"podiam", "webhook", "--iam-role-key="});
  ASSERT_TRUE(inv.exit_code);
  EXPECT_EQ(*inv.exit_code, 2);
}

TEST(WebhookFlags, BadValuesAreOneLineExitTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--port=0"},
           {"--port=http"},
           {"--metrics-port=70000"},
           {"--token-expiration=-1"},
           {"--token-expiration=1h"},
           {"--token-mount-path=relative"},
           {"--container-credentials-full-uri=169.254.170.23"},
           {"--annotation-prefix="},
           {"--service-account-lookup-timeout=0s"},
           {"-port=443"},
       }) {
    args.insert(args.begin(), {"podiam", "webhook"});
    auto inv = ParseCommandLine(args);
    EXPECT_EQ(inv.exit_code, kExitUsage) << args.back();
    EXPECT_EQ(std::count(inv.stderr_text.begin(), inv.stderr_text.end(), '\n'), 1)
        << inv.stderr_text;
  }
}

TEST(WebhookFlags, EnvironmentWorks) {
  setenv("PODIAM_AWS_DEFAULT_REGION", "ap-south-1", 1);
  auto inv = ParseCommandLine({"podiam", "webhook"});
  unsetenv("PODIAM_AWS_DEFAULT_REGION");
  EXPECT_EQ(std::get<WebhookInvocation>(inv.subcommand).config.aws_default_region, "ap-south-1");
}

}  // namespace
}  // namespace podiam::cli
