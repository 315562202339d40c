#include "podiam/aws/endpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/aws/partition.hpp"

namespace podiam::aws {
namespace {

using ::testing::HasSubstr;

TEST(PartitionTest, RegionPrefixesPickThePartition) {
  EXPECT_EQ(PartitionForRegion("us-east-1"), "aws");
  EXPECT_EQ(PartitionForRegion("eu-west-1"), "aws");
  EXPECT_EQ(PartitionForRegion("cn-north-1"), "aws-cn");
  EXPECT_EQ(PartitionForRegion("us-gov-west-1"), "aws-us-gov");
  EXPECT_EQ(PartitionForRegion("us-iso-east-1"), "aws-iso");
  EXPECT_EQ(PartitionForRegion("us-isob-east-1"), "aws-iso-b");
  EXPECT_EQ(PartitionForRegion("eu-isoe-west-1"), "aws-iso-e");
  EXPECT_EQ(PartitionForRegion("us-isof-south-1"), "aws-iso-f");
  EXPECT_EQ(PartitionForRegion("eusc-de-east-1"), "aws-eusc");
  EXPECT_EQ(PartitionForRegion("us-isolated-1"), "aws");  // prefix needs the '-'
}

TEST(PartitionTest, DnsSuffixes) {
  EXPECT_EQ(FindPartition("aws")->dns_suffix, "amazonaws.com");
  EXPECT_EQ(FindPartition("aws-cn")->dns_suffix, "amazonaws.com.cn");
  EXPECT_EQ(FindPartition("aws-us-gov")->dns_suffix, "amazonaws.com");
  EXPECT_EQ(FindPartition("aws-iso")->dns_suffix, "c2s.ic.gov");
  EXPECT_EQ(FindPartition("aws-iso-b")->dns_suffix, "sc2s.sgov.gov");
  EXPECT_EQ(FindPartition("aws-iso-e")->dns_suffix, "cloud.adc-e.uk");
  EXPECT_EQ(FindPartition("aws-iso-f")->dns_suffix, "csp.hci.ic.gov");
  EXPECT_EQ(FindPartition("aws-eusc")->dns_suffix, "amazonaws.eu");
  EXPECT_EQ(FindPartition("aws-moon"), nullptr);
}

TEST(PartitionTest, RegionShape) {
  EXPECT_TRUE(LooksLikeRegion("us-east-1"));
  EXPECT_FALSE(LooksLikeRegion(""));
  EXPECT_FALSE(LooksLikeRegion("US-EAST-1"));
  EXPECT_FALSE(LooksLikeRegion("us-east-1.evil.com"));
  EXPECT_FALSE(LooksLikeRegion("-us"));
}

// The URLs botocore 1.43.11's endpoint rules produce for the same inputs.
TEST(StsEndpointTest, RegionalAndFipsMatchBotocore) {
  struct Case {
    std::string region;
    bool fips;
    std::string url;
    std::string partition;
  };
  std::vector<Case> cases = {
      {"us-east-1", false, "https://sts.us-east-1.amazonaws.com/", "aws"},
      {"us-east-1", true, "https://sts-fips.us-east-1.amazonaws.com/", "aws"},
      {"eu-west-1", false, "https://sts.eu-west-1.amazonaws.com/", "aws"},
      {"cn-north-1", false, "https://sts.cn-north-1.amazonaws.com.cn/", "aws-cn"},
      {"cn-north-1", true, "https://sts-fips.cn-north-1.amazonaws.com.cn/", "aws-cn"},
      {"us-gov-west-1", false, "https://sts.us-gov-west-1.amazonaws.com/", "aws-us-gov"},
      {"us-gov-west-1", true, "https://sts.us-gov-west-1.amazonaws.com/", "aws-us-gov"},
      {"us-iso-east-1", false, "https://sts.us-iso-east-1.c2s.ic.gov/", "aws-iso"},
      {"us-isob-east-1", false, "https://sts.us-isob-east-1.sc2s.sgov.gov/", "aws-iso-b"},
      {"eu-isoe-west-1", false, "https://sts.eu-isoe-west-1.cloud.adc-e.uk/", "aws-iso-e"},
      {"us-isof-south-1", true, "https://sts-fips.us-isof-south-1.csp.hci.ic.gov/", "aws-iso-f"},
      {"eusc-de-east-1", false, "https://sts.eusc-de-east-1.amazonaws.eu/", "aws-eusc"},
  };
  for (const auto& c : cases) {
    auto ep = ResolveStsEndpoint({.region = c.region, .use_fips = c.fips});
    ASSERT_TRUE(ep) << c.region << ": " << ep.error().ToString();
    EXPECT_EQ(ep->url, c.url) << c.region << " fips=" << c.fips;
    EXPECT_EQ(ep->signing_region, c.region);
    EXPECT_EQ(ep->partition, c.partition);
  }
}

TEST(StsEndpointTest, GlobalOnlyWhenAskedAndSignedForUsEast1) {
  auto ep = ResolveStsEndpoint({.region = "eu-west-1", .use_global = true});
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->url, "https://sts.amazonaws.com/");
  EXPECT_EQ(ep->signing_region, "us-east-1");

  auto pseudo = ResolveStsEndpoint({.region = "aws-global"});
  ASSERT_TRUE(pseudo);
  EXPECT_EQ(pseudo->url, "https://sts.amazonaws.com/");

  auto no_region = ResolveStsEndpoint({.use_global = true});
  ASSERT_TRUE(no_region);
  EXPECT_EQ(no_region->signing_region, "us-east-1");

  auto cn = ResolveStsEndpoint({.region = "cn-north-1", .use_global = true});
  ASSERT_FALSE(cn);
  EXPECT_THAT(cn.error().message(), HasSubstr("only in partition aws"));
  auto fips = ResolveStsEndpoint({.region = "us-east-1", .use_fips = true, .use_global = true});
  ASSERT_FALSE(fips);
  EXPECT_THAT(fips.error().message(), HasSubstr("no FIPS"));
}

TEST(StsEndpointTest, OverrideIsUsedAsIsAndSignedForTheRegion) {
  auto ep = ResolveStsEndpoint({.region = "eu-west-1", .url_override = "http://127.0.0.1:5599"});
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->url, "http://127.0.0.1:5599");
  EXPECT_EQ(ep->signing_region, "eu-west-1");
  auto default_region = ResolveStsEndpoint({.url_override = "http://127.0.0.1:5599/"});
  ASSERT_TRUE(default_region);
  EXPECT_EQ(default_region->signing_region, "us-east-1");
  auto bad = ResolveStsEndpoint({.region = "us-east-1", .url_override = "ftp://x"});
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("STS endpoint override"));
}

TEST(StsEndpointTest, RegionIsRequiredAndChecked) {
  auto none = ResolveStsEndpoint({});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(none.error().message(), HasSubstr("no AWS region"));
  auto evil = ResolveStsEndpoint({.region = "x.evil.com/"});
  ASSERT_FALSE(evil);
  EXPECT_THAT(evil.error().message(), HasSubstr("not a valid AWS region"));
}

}  // namespace
}  // namespace podiam::aws
