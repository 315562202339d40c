#include "podiam/ops/ops_handler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

namespace podiam::ops {
namespace {

using ::testing::HasSubstr;

http::Response Get(http::Handler& h, std::string target) {
  http::Response out;
  h.Handle(http::Request{.method = "GET", .target = std::move(target)},
           [&](http::Response r) { out = std::move(r); });
  return out;
}

TEST(OpsHandlerTest, MetricsServesTheRegistryInTextFormat) {
  metrics::Registry registry;
  registry.AddCounter("podiam_test_total", "Test.").Get().Inc();
  Readiness readiness;
  auto handler = MakeOpsHandler(registry, readiness);
  auto r = Get(*handler, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("podiam_test_total 1\n"));
}

TEST(OpsHandlerTest, ReadyzFollowsChecksAndSaysWhy) {
  metrics::Registry registry;
  Readiness readiness;
  std::atomic<bool> synced{false};
  readiness.Add("informers-synced",
                [&] { return synced.load() ? Check::Ok() : Check::Fail("pods not listed yet"); });
  readiness.Add("always", [] { return Check::Ok(); });
  auto handler = MakeOpsHandler(registry, readiness);
  auto r = Get(*handler, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("- informers-synced: pods not listed yet\n"));
  EXPECT_EQ(Get(*handler, "/healthz").status, 200);
  synced = true;
  EXPECT_EQ(Get(*handler, "/readyz/").status, 200);
}

TEST(OpsHandlerTest, OtherPathsAre404) {
  metrics::Registry registry;
  Readiness readiness;
  auto handler = MakeOpsHandler(registry, readiness);
  EXPECT_EQ(Get(*handler, "/debug").status, 404);
}

}  // namespace
}  // namespace podiam::ops
