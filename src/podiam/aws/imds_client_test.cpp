#include "podiam/aws/imds_client.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_http_client.hpp"

namespace podiam::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ImdsClientTest, TokenThenGetWithTheTokenWithinTheDeadline) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  http.PushResponse(200, "the-token\n");
  http.PushResponse(200, "eu-west-1");
  ImdsClient imds(http, clock, {.endpoint = "http://127.0.0.1:9/", .token_ttl_seconds = 60});
  auto region = imds.Get("/latest/meta-data/placement/region", clock.SteadyNow() + seconds(2));
  ASSERT_TRUE(region) << region.error().ToString();
  EXPECT_EQ(region->body, "eu-west-1");
  auto requests = http.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].url, "http://127.0.0.1:9/latest/api/token");
  EXPECT_EQ(requests[0].headers.Get("X-aws-ec2-metadata-token-ttl-seconds"), "60");
  EXPECT_EQ(requests[0].timeout, seconds(2));
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].url, "http://127.0.0.1:9/latest/meta-data/placement/region");
  EXPECT_EQ(requests[1].headers.Get("X-aws-ec2-metadata-token"), "the-token");
}

TEST(ImdsClientTest, EachRequestGetsWhatIsLeftOfTheDeadline) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  http.SetHandler([&](const http::ClientRequest& r) -> Result<http::Response> {
    clock.Advance(milliseconds(1500));  // the token exchange is slow
    return http::Response::Text(200, r.method == "PUT" ? "t" : "body");
  });
  ImdsClient imds(http, clock, {});
  auto deadline = clock.SteadyNow() + seconds(2);
  auto response = imds.Get("/latest/meta-data/iam/info", deadline);
  ASSERT_TRUE(response);
  auto requests = http.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].url, "http://169.254.169.254/latest/api/token");
  EXPECT_EQ(requests[0].headers.Get("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[1].timeout, milliseconds(500));
  // Past the deadline: no request at all.
  auto late = imds.Get("/latest/meta-data/iam/info", deadline);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(http.request_count(), 2u);
}

TEST(ImdsClientTest, NoImdsv2MeansAGetWithoutAToken) {
  for (int status : {403, 404, 405}) {
    testing::FakeClock clock;
    testing::FakeHttpClient http;
    http.PushResponse(status, "");
    http.PushResponse(200, "x");
    ImdsClient imds(http, clock, {});
    auto token = imds.Token(clock.SteadyNow() + seconds(1));
    ASSERT_TRUE(token) << status;
    EXPECT_FALSE(*token);
    ASSERT_TRUE(imds.GetWithToken("/p", *token, clock.SteadyNow() + seconds(1)));
    EXPECT_FALSE(http.requests()[1].headers.Has("X-aws-ec2-metadata-token"));
  }
  testing::FakeClock clock;
  testing::FakeHttpClient slow;
  slow.PushError(ErrorCode::kDeadlineExceeded, "timed out");
  auto token = ImdsClient(slow, clock, {}).Token(clock.SteadyNow() + seconds(1));
  ASSERT_TRUE(token);
  EXPECT_FALSE(*token);
}

TEST(ImdsClientTest, TokenFailuresSayWhy) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  http.PushResponse(400, "");
  http.PushError(ErrorCode::kUnavailable, "connection refused");
  ImdsClient imds(http, clock, {});
  auto rejected = imds.Token(clock.SteadyNow() + seconds(1));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(rejected.error().upstream_code(), "400");
  auto down = imds.Token(clock.SteadyNow() + seconds(1));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().upstream_code(), "");
}

TEST(ImdsClientTest, GetFallsBackToImdsv1WhenTheTokenExchangeFails) {
  testing::FakeClock clock;
  testing::FakeHttpClient http;
  http.PushResponse(500, "");
  http.PushResponse(200, "us-west-2");
  ImdsClient imds(http, clock, {});
  auto response = imds.Get("/latest/meta-data/placement/region", clock.SteadyNow() + seconds(1));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "us-west-2");
  EXPECT_FALSE(http.requests()[1].headers.Has("X-aws-ec2-metadata-token"));
}

}  // namespace
}  // namespace podiam::aws
