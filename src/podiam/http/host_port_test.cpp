#include "podiam/http/host_port.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::http {
namespace {

using ::testing::HasSubstr;

TEST(HostPortTest, ParsesIpv4Ipv6AndNames) {
  auto v4 = ParseHostPort("0.0.0.0:8181");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8181);
  EXPECT_EQ(v4->ToString(), "0.0.0.0:8181");
  auto v6 = ParseHostPort("[fd00::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "fd00::1");
  EXPECT_EQ(v6->ToString(), "[fd00::1]:80");
  EXPECT_EQ(ParseHostPort("localhost:0")->port, 0);
}

TEST(HostPortTest, RefusesWhatIsNotAddressColonPort) {
  for (const char* bad : {"nowhere", ":8181", "host:", "host:http", "host:65536", "host:-1"}) {
    auto r = ParseHostPort(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr(bad));
  }
}

}  // namespace
}  // namespace podiam::http
