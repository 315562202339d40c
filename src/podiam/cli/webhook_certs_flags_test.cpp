#include "podiam/cli/webhook_certs_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::HasSubstr;

const WebhookConfig& Config(const Invocation& inv) {
  return std::get<WebhookInvocation>(inv.subcommand).config;
}

TEST(WebhookCertsFlags, CertsIsASubcommandOfWebhook) {
  auto inv = ParseCommandLine({"podiam", "webhook", "certs", "--out", "/tmp/x"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = Config(inv).certs;
  EXPECT_TRUE(c.requested);
  EXPECT_EQ(c.out, "/tmp/x");
  EXPECT_EQ(c.service_name, "podiam-webhook");
  EXPECT_EQ(c.namespace_name, "podiam-webhook");
  EXPECT_EQ(c.days, 365);
  EXPECT_FALSE(c.force);
  EXPECT_TRUE(c.manifest.empty());
  // Without it, the webhook runs as before, and the reference's --namespace is still ignored.
  inv = ParseCommandLine({"podiam", "webhook", "--namespace=default", "--port=8443"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  EXPECT_FALSE(Config(inv).certs.requested);
  EXPECT_EQ(Config(inv).port, 8443);
}

TEST(WebhookCertsFlags, AllFlags) {
  auto inv =
      ParseCommandLine({"podiam", "webhook", "certs", "--service-name=hook", "--namespace", "tools",
                        "--out=/o", "--force", "--days=30", "--manifest=/etc/hostname"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = Config(inv).certs;
  EXPECT_EQ(c.service_name, "hook");
  EXPECT_EQ(c.namespace_name, "tools");
  EXPECT_TRUE(c.force);
  EXPECT_EQ(c.days, 30);
  EXPECT_EQ(c.manifest, "/etc/hostname");
}

TEST(WebhookCertsFlags, BadValuesAreUsageErrors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"podiam", "webhook", "certs"},
           {"podiam", "webhook", "certs", "--out=/o", "--namespace=Bad_Name"},
           {"podiam", "webhook", "certs", "--out=/o", "--service-name=a.b"},
           {"podiam", "webhook", "certs", "--out=/o", "--days=0"},
           {"podiam", "webhook", "certs", "--out=/o", "--manifest=/does/not/exist"}}) {
    auto inv = ParseCommandLine(args);
    ASSERT_TRUE(inv.exit_code) << args.back();
    EXPECT_EQ(*inv.exit_code, kExitUsage) << args.back();
    EXPECT_THAT(inv.stderr_text, HasSubstr("podiam")) << args.back();
  }
}

}  // namespace
}  // namespace podiam::cli
