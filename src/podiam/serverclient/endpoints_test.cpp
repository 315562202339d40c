#include "podiam/serverclient/endpoints.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::serverclient {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseServerUrlsTest, SplitsCommasAndRepeats) {
  auto urls = ParseServerUrls({"https://a:8443,https://b:8443/", "https://c", "https://a:8443"});
  ASSERT_TRUE(urls) << urls.error().ToString();
  EXPECT_THAT(*urls, ElementsAre("https://a:8443", "https://b:8443", "https://c"));
}

TEST(ParseServerUrlsTest, RefusesWhatIsNotAnHttpsBaseUrl) {
  for (const char* bad : {"http://a:8443", "a:8443", "https://a/v1", "https://a?x=1",
                          "https://user@a", "ftp://a", "https://a:99999"}) {
    auto urls = ParseServerUrls({bad});
    ASSERT_FALSE(urls) << bad;
    EXPECT_EQ(urls.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(urls.error().message(), HasSubstr("--server")) << bad;
  }
  EXPECT_FALSE(ParseServerUrls({}));
  EXPECT_FALSE(ParseServerUrls({","}));
}

TEST(EndpointsTest, BacksOffPerUrlWithJitterAndRecovers) {
  testing::FakeClock clock;
  testing::FakeRandom random(0.0);  // jitter factor 0.5
  Endpoints e({"https://a", "https://b"}, clock, random,
              {.base = milliseconds(1000), .max = milliseconds(4000)});
  EXPECT_THAT(e.Pick(), ElementsAre("https://a", "https://b"));
  EXPECT_EQ(e.Failed("https://a"), 1);  // 1 s * 0.5
  EXPECT_THAT(e.Pick(), ElementsAre("https://b"));
  EXPECT_EQ(e.BackingOff(), 1U);
  clock.Advance(milliseconds(499));
  EXPECT_THAT(e.Pick(), ElementsAre("https://b"));
  clock.Advance(milliseconds(1));
  EXPECT_THAT(e.Pick(), ElementsAre("https://a", "https://b"));
  random.set_value(0.999);
  EXPECT_EQ(e.Failed("https://a"), 2);  // 2 s * ~1
  clock.Advance(milliseconds(1990));
  EXPECT_THAT(e.Pick(), ElementsAre("https://b"));
  clock.Advance(milliseconds(10));
  EXPECT_THAT(e.Pick(), ElementsAre("https://a", "https://b"));
  for (int i = 0; i < 10; ++i) {
    e.Failed("https://a");
  }
  clock.Advance(milliseconds(3999));  // capped at max
  EXPECT_THAT(e.Pick(), ElementsAre("https://a", "https://b"));
  e.Failed("https://a");
  e.Failed("https://b");
  EXPECT_TRUE(e.Pick().empty());
  ASSERT_TRUE(e.NextAvailable());
  EXPECT_TRUE(e.Succeeded("https://a"));
  EXPECT_FALSE(e.Succeeded("https://a"));
  EXPECT_THAT(e.Pick(), ElementsAre("https://a"));
  EXPECT_EQ(e.Failed("https://unknown"), 0);
}

TEST(EndpointsTest, DiscoveredUrlsComeAfterTheConfiguredOnesAndKeepTheirBackoff) {
  testing::FakeClock clock;
  testing::FakeRandom random(0.0);
  Endpoints e({"https://a"}, clock, random,
              {.base = milliseconds(1000), .max = milliseconds(4000)});
  e.SetDiscovered({"https://10.0.0.2:8443", "https://a", "https://10.0.0.1:8443"});
  EXPECT_THAT(e.All(), ElementsAre("https://a", "https://10.0.0.2:8443", "https://10.0.0.1:8443"));
  EXPECT_TRUE(e.Discovered("https://10.0.0.1:8443"));
  EXPECT_FALSE(e.Discovered("https://a"));  // configured wins
  EXPECT_EQ(e.Failed("https://10.0.0.2:8443"), 1);
  EXPECT_EQ(e.Failed("https://10.0.0.2:8443"), 2);  // backing off for 1 s now
  EXPECT_EQ(e.Failed("https://a"), 1);
  // The slice changes: .2 stays (still backing off, its failure count kept), .1 goes, .3 comes.
  e.SetDiscovered({"https://10.0.0.3:8443", "https://10.0.0.2:8443"});
  EXPECT_THAT(e.All(), ElementsAre("https://a", "https://10.0.0.3:8443", "https://10.0.0.2:8443"));
  EXPECT_THAT(e.Pick(), ElementsAre("https://10.0.0.3:8443"));
  EXPECT_EQ(e.BackingOff(), 2U);
  EXPECT_EQ(e.Failed("https://10.0.0.2:8443"), 3);
  EXPECT_EQ(e.Failed("https://10.0.0.1:8443"), 0);  // gone: ignored
  EXPECT_FALSE(e.Discovered("https://10.0.0.1:8443"));
  // A URL that goes and comes back starts afresh.
  e.SetDiscovered({});
  EXPECT_THAT(e.All(), ElementsAre("https://a"));
  EXPECT_EQ(e.BackingOff(), 1U);
  e.SetDiscovered({"https://10.0.0.2:8443"});
  EXPECT_EQ(e.Failed("https://10.0.0.2:8443"), 1);
}

TEST(EndpointsTest, WorksWithOnlyDiscoveredUrls) {
  testing::FakeClock clock;
  testing::FakeRandom random(0.0);
  Endpoints e({}, clock, random, {});
  EXPECT_TRUE(e.Pick().empty());
  EXPECT_FALSE(e.NextAvailable());
  e.SetDiscovered({"https://[fd00::1]:8443"});
  EXPECT_THAT(e.Pick(), ElementsAre("https://[fd00::1]:8443"));
}

TEST(ParseServiceRefTest, NamespaceNameAndOptionalPort) {
  auto ref = ParseServiceRef("kube-system/podiam-server");
  ASSERT_TRUE(ref) << ref.error().ToString();
  EXPECT_EQ(ref->namespace_name, "kube-system");
  EXPECT_EQ(ref->name, "podiam-server");
  EXPECT_EQ(ref->port, "");
  EXPECT_EQ(ref->DnsName(), "podiam-server.kube-system.svc");
  EXPECT_EQ(ParseServiceRef("ns/svc:https")->port, "https");
  EXPECT_EQ(ParseServiceRef("ns/svc:8443")->port, "8443");
  for (const char* bad : {"svc", "/svc", "ns/", "ns/svc:", "NS/svc", "ns/svc:0", "ns/svc:70000",
                          "ns/svc:1234567", "ns/s_c", "ns/svc/x", "ns/-svc", "ns/svc:a b"}) {
    auto r = ParseServiceRef(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr("--server-service")) << bad;
  }
}

}  // namespace
}  // namespace podiam::serverclient
