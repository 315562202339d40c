#include "podiam/cli/container_credentials_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/cli/command_line.hpp"

namespace podiam::cli {
namespace {

using ::testing::ElementsAre;

TEST(ContainerCredentialsFlagsTest, DefaultsAreTheEksOnes) {
  auto inv = ParseCommandLine({"podiam", "agent"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = std::get<AgentInvocation>(inv.subcommand).config.container_credentials;
  EXPECT_TRUE(c.enabled);
  EXPECT_THAT(c.listen, ElementsAre("169.254.170.23:80", "[fd00:ec2::23]:80"));
  EXPECT_THAT(c.token_audiences, ElementsAre("pods.eks.amazonaws.com"));
  EXPECT_TRUE(c.from_annotations);
  EXPECT_FALSE(c.host_network);
  EXPECT_TRUE(c.link.empty());
}

TEST(ContainerCredentialsFlagsTest, EveryFlag) {
  auto inv = ParseCommandLine(
      {"podiam", "agent", "--container-credentials=false", "--container-credentials-listen",
       "10.0.0.1:8080", "--container-credentials-listen", "[::1]:8080",
       "--container-credentials-link=lo", "--token-audience=a", "--token-audience=b",
       "--container-credentials-from-annotations=false", "--cluster-arn",
       "arn:aws:eks:us-east-1:123456789012:cluster/c", "--container-credentials-host-network",
       "--container-credentials-pod-qps=0"});
  ASSERT_FALSE(inv.exit_code) << inv.stderr_text;
  const auto& c = std::get<AgentInvocation>(inv.subcommand).config.container_credentials;
  EXPECT_FALSE(c.enabled);
  EXPECT_THAT(c.listen, ElementsAre("10.0.0.1:8080", "[::1]:8080"));
  EXPECT_EQ(c.link, "lo");
  EXPECT_THAT(c.token_audiences, ElementsAre("a", "b"));
  EXPECT_FALSE(c.from_annotations);
  EXPECT_EQ(c.cluster_arn, "arn:aws:eks:us-east-1:123456789012:cluster/c");
  EXPECT_TRUE(c.host_network);
  EXPECT_EQ(c.pod_qps, 0);
}

TEST(ContainerCredentialsFlagsTest, NegativeRateIsAUsageError) {
  auto inv = ParseCommandLine({"podiam", "agent", "--container-credentials-pod-qps=-1"});
  ASSERT_TRUE(inv.exit_code);
  EXPECT_EQ(*inv.exit_code, kExitUsage);
}

}  // namespace
}  // namespace podiam::cli
