#include "podiam/app/node_metadata.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "podiam/app/role_policy.hpp"
#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"

namespace podiam::app {
namespace {

using ::testing::HasSubstr;

// The node's metadata service as a map of path -> (status, body); records what was asked and
// the time left for it.
class FakeInstanceMetadata final : public aws::InstanceMetadata {
 public:
  explicit FakeInstanceMetadata(const Clock& clock) : clock_(clock) {}
  void Set(const std::string& path, int status, std::string body) {
    answers_[path] = {status, std::move(body)};
  }
  Result<http::Response> Get(std::string_view path, Clock::SteadyTime deadline) override {
    asked.emplace_back(path);
    budgets.push_back(deadline - clock_.SteadyNow());
    auto it = answers_.find(std::string(path));
    if (it == answers_.end()) {
      return MakeError(ErrorCode::kUnavailable, "connection refused");
    }
    return http::Response::Text(it->second.first, it->second.second);
  }
  std::vector<std::string> asked;
  std::vector<Clock::SteadyTime::duration> budgets;

 private:
  const Clock& clock_;
  std::map<std::string, std::pair<int, std::string>> answers_;
};

constexpr const char* kRegionPath = "/latest/meta-data/placement/region";
constexpr const char* kInfoPath = "/latest/meta-data/iam/info";

TEST(ResolveRegionTest, FlagThenEnvironmentThenNodeThenDefault) {
  testing::FakeClock clock;
  FakeInstanceMetadata imds(clock);
  imds.Set(kRegionPath, 200, "ap-south-2");
  auto env =
      aws::MapEnvironment({{"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "eu-north-1"}});
  EXPECT_EQ(ResolveRegion("us-west-2", env, &imds, clock).name, "us-west-2");
  EXPECT_EQ(ResolveRegion("", env, &imds, clock).source, "AWS_REGION");
  auto fallback_env =
      aws::MapEnvironment({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "eu-north-1"}});
  EXPECT_EQ(ResolveRegion("", fallback_env, &imds, clock).name, "eu-north-1");
  EXPECT_TRUE(imds.asked.empty());  // configured: the node is never asked

  auto node = ResolveRegion("", aws::MapEnvironment({}), &imds, clock);
  EXPECT_EQ(node.name, "ap-south-2");
  EXPECT_EQ(node.source, "node metadata");
  ASSERT_EQ(imds.asked.size(), 1u);
  EXPECT_EQ(imds.budgets[0], std::chrono::seconds(2));

  auto none = ResolveRegion("", aws::MapEnvironment({}), nullptr, clock);
  EXPECT_EQ(none.name, "us-east-1");
  EXPECT_EQ(none.source, "default");
  ASSERT_TRUE(none.discovery_error);
  EXPECT_THAT(none.discovery_error->message(), HasSubstr("AWS_EC2_METADATA_DISABLED"));
}

TEST(ResolveRegionTest, ARegionTheNodeCannotHaveIsRefused) {
  testing::FakeClock clock;
  FakeInstanceMetadata imds(clock);
  for (const char* body : {"", "EU-WEST-1", "eu west 1", "<html>"}) {
    imds.Set(kRegionPath, 200, body);
    auto region = ResolveRegion("", aws::MapEnvironment({}), &imds, clock);
    EXPECT_EQ(region.name, "us-east-1") << body;
    EXPECT_TRUE(region.discovery_error) << body;
  }
  imds.Set(kRegionPath, 404, "eu-west-1");
  EXPECT_EQ(ResolveRegion("", aws::MapEnvironment({}), &imds, clock).name, "us-east-1");
}

TEST(DiscoverBaseArnTest, TakesPartitionAndAccountOfTheInstanceProfile) {
  testing::FakeClock clock;
  FakeInstanceMetadata imds(clock);
  imds.Set(kInfoPath, 200,
           R"({"Code":"Success","InstanceProfileArn":"arn:aws-cn:iam::123456789012:)"
           R"(instance-profile/nodes","InstanceProfileId":"AIPA"})");
  auto base = DiscoverBaseArn(&imds, clock);
  ASSERT_TRUE(base) << base.error().ToString();
  EXPECT_EQ(base->ToString(), "arn:aws-cn:iam::123456789012:role/");
}

TEST(DiscoverBaseArnTest, FailuresNameTheFlag) {
  testing::FakeClock clock;
  FakeInstanceMetadata imds(clock);
  auto down = DiscoverBaseArn(&imds, clock);
  ASSERT_FALSE(down);
  EXPECT_THAT(down.error().message(), HasSubstr("--auto-discover-base-arn: node IMDS"));
  imds.Set(kInfoPath, 404, "");
  EXPECT_THAT(DiscoverBaseArn(&imds, clock).error().message(), HasSubstr("answered 404"));
  for (const char* body : {"not json", "[]", R"({"InstanceProfileArn":5})", "{}"}) {
    imds.Set(kInfoPath, 200, body);
    auto bad = DiscoverBaseArn(&imds, clock);
    ASSERT_FALSE(bad) << body;
    EXPECT_EQ(bad.error().code(), ErrorCode::kUpstreamInvalid) << body;
  }
  imds.Set(kInfoPath, 200, R"({"InstanceProfileArn":"arn:aws:iam::12:instance-profile/x"})");
  EXPECT_THAT(DiscoverBaseArn(&imds, clock).error().message(),
              HasSubstr("--auto-discover-base-arn"));
  auto disabled = DiscoverBaseArn(nullptr, clock);
  ASSERT_FALSE(disabled);
  EXPECT_THAT(disabled.error().message(), HasSubstr("AWS_EC2_METADATA_DISABLED"));
}

TEST(NodeMetadataTest, EndpointAndSwitchFromTheEnvironment) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  http.PushResponse(200, "tok");
  http.PushResponse(200, "eu-west-3");
  auto node = OpenNodeMetadata(
      http, clock,
      aws::MapEnvironment({{"PODIAM_NODE_IMDS_ENDPOINT", "http://127.0.0.1:9/"},
                           {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://other/"}}));
  ASSERT_NE(node.ForOwnUse(), nullptr);
  EXPECT_EQ(DiscoverRegion(node.ForOwnUse(), clock).value(), "eu-west-3");
  auto requests = http.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/latest/api/token");
  EXPECT_EQ(requests[0].headers.Get("X-aws-ec2-metadata-token-ttl-seconds"), "60");
  EXPECT_EQ(requests[1].headers.Get("X-aws-ec2-metadata-token"), "tok");

  auto off =
      OpenNodeMetadata(http, clock, aws::MapEnvironment({{"AWS_EC2_METADATA_DISABLED", "True"}}));
  EXPECT_EQ(off.ForOwnUse(), nullptr);
  ASSERT_NE(off.client, nullptr);  // still there for pods' allowed paths
  EXPECT_EQ(off.client->endpoint(), "http://169.254.169.254");
}

TEST(PolicyOptionsFromTest, GivenBaseArnWinsAndDiscoveryOnlyWhenAsked) {
  testing::FakeClock clock;
  FakeInstanceMetadata imds(clock);
  imds.Set(kInfoPath, 200,
           R"({"InstanceProfileArn":"arn:aws:iam::210987654321:instance-profile/n"})");
  log::Logger log("test");
  cli::RoleFlags flags{.base_role_arn = "arn:aws:iam::123456789012:role/k8s/",
                       .auto_discover_base_arn = true,
                       .default_role = "fallback",
                       .iam_role_key = "example.com/role",
                       .namespace_restriction_format = identity::RestrictionFormat::kRegexp};
  auto given = PolicyOptionsFrom(flags, &imds, clock, log);
  ASSERT_TRUE(given);
  EXPECT_EQ(given->base->ToString(), "arn:aws:iam::123456789012:role/k8s/");
  EXPECT_EQ(given->keys.role, "example.com/role");
  EXPECT_EQ(given->keys.session_name, identity::annotations::kSessionName);
  EXPECT_EQ(given->format, identity::RestrictionFormat::kRegexp);
  EXPECT_TRUE(imds.asked.empty());

  flags.base_role_arn.clear();
  auto discovered = PolicyOptionsFrom(flags, &imds, clock, log);
  ASSERT_TRUE(discovered);
  EXPECT_EQ(discovered->base->ToString(), "arn:aws:iam::210987654321:role/");
  EXPECT_FALSE(PolicyOptionsFrom(flags, nullptr, clock, log));

  flags.auto_discover_base_arn = false;
  auto none = PolicyOptionsFrom(flags, nullptr, clock, log);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->base);
}

}  // namespace
}  // namespace podiam::app
