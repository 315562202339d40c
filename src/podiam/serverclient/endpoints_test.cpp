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

}  // namespace
}  // namespace podiam::serverclient
