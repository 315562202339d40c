#include "podiam/agent/address_filter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "podiam/testing/fake_clock.hpp"

namespace podiam::agent {
namespace {

using ::testing::HasSubstr;

TEST(AddressFilterTest, NodeAddressesAreListedAndRefreshedOnAMissAtMostEveryInterval) {
  testing::FakeClock clock;
  int lists = 0;
  std::vector<std::string> addresses = {"10.0.0.5", "127.0.0.1"};
  auto filter = AddressFilter::Create(
      {},
      [&] {
        ++lists;
        return addresses;
      },
      clock, std::chrono::seconds(10));
  ASSERT_TRUE(filter);
  EXPECT_TRUE((*filter)->IsNodeAddress("10.0.0.5"));
  EXPECT_FALSE((*filter)->IsNodeAddress("10.244.1.7"));
  EXPECT_FALSE((*filter)->IsNodeAddress("10.0.0.6"));
  EXPECT_EQ(lists, 1);  // misses within the interval do not list again
  addresses.emplace_back("10.0.0.6");
  clock.Advance(std::chrono::seconds(11));
  EXPECT_TRUE((*filter)->IsNodeAddress("10.0.0.6"));
  EXPECT_EQ(lists, 2);
  EXPECT_TRUE((*filter)->MayBePod("10.0.0.6"));  // no ranges: anything may be a pod
}

TEST(AddressFilterTest, PodRangesV4AndV6) {
  testing::FakeClock clock;
  auto filter = AddressFilter::Create({"10.244.1.0/24", "fd00:10:244:1::/64", "172.16.0.0/12"},
                                      nullptr, clock);
  ASSERT_TRUE(filter);
  auto& f = **filter;
  EXPECT_TRUE(f.MayBePod("10.244.1.7"));
  EXPECT_TRUE(f.MayBePod("::ffff:10.244.1.7"));  // IPv4-mapped
  EXPECT_FALSE(f.MayBePod("10.244.2.7"));
  EXPECT_TRUE(f.MayBePod("172.31.255.1"));
  EXPECT_FALSE(f.MayBePod("172.32.0.1"));
  EXPECT_TRUE(f.MayBePod("fd00:10:244:1::42"));
  EXPECT_FALSE(f.MayBePod("fd00:10:244:2::42"));
  EXPECT_FALSE(f.MayBePod("not-an-ip"));
  EXPECT_FALSE(f.IsNodeAddress("10.244.1.7"));  // no lister: nothing is the node's
}

TEST(AddressFilterTest, BadRangesAreRefusedWithTheFlagName) {
  testing::FakeClock clock;
  for (const char* bad :
       {"10.244.1.0", "10.244.1.0/33", "10.244.1.0/", "nope/8", "::/129", "10.0.0.0/8x"}) {
    auto filter = AddressFilter::Create({bad}, nullptr, clock);
    ASSERT_FALSE(filter) << bad;
    EXPECT_THAT(filter.error().message(), HasSubstr("--pod-cidr")) << bad;
  }
}

TEST(AddressFilterTest, LocalAddressesIncludeLoopback) {
  auto local = LocalAddresses();
  EXPECT_NE(std::find(local.begin(), local.end(), "127.0.0.1"), local.end());
}

}  // namespace
}  // namespace podiam::agent
