#include "podiam/containercreds/review_cache.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"

namespace podiam::containercreds {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::shared_ptr<const TokenIdentity> Identity(std::string uid) {
  return std::make_shared<const TokenIdentity>(
      TokenIdentity{.pod_name = "web", .pod_uid = std::move(uid)});
}

TEST(ReviewCacheTest, PositiveUntilExpCappedAtMax) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.max_positive = minutes(10)});
  cache.PutPositive("a", Identity("u1"), clock.Now() + minutes(3));
  cache.PutPositive("b", Identity("u2"), clock.Now() + minutes(60));
  clock.Advance(minutes(3) - seconds(1));
  EXPECT_TRUE(cache.Get("a"));
  clock.Advance(seconds(1));
  EXPECT_FALSE(cache.Get("a"));  // the token's exp
  EXPECT_TRUE(cache.Get("b"));
  clock.Advance(minutes(7));
  EXPECT_FALSE(cache.Get("b"));  // the 10 min cap
}

TEST(ReviewCacheTest, ExpiredTokenIsNotStored) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {});
  cache.PutPositive("a", Identity("u1"), clock.Now() - seconds(1));
  EXPECT_FALSE(cache.Get("a"));
  EXPECT_EQ(cache.Size(), 0U);
}

TEST(ReviewCacheTest, NegativeBriefly) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.negative = seconds(5)});
  cache.PutNegative("bad", "no");
  auto hit = cache.Get("bad");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->identity, nullptr);
  EXPECT_EQ(hit->error, "no");
  clock.Advance(seconds(5));
  EXPECT_FALSE(cache.Get("bad"));
}

TEST(ReviewCacheTest, InvalidatePodDropsOnlyItsReviews) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {});
  cache.PutPositive("a1", Identity("u1"), clock.Now() + minutes(5));
  cache.PutPositive("a2", Identity("u1"), clock.Now() + minutes(5));
  cache.PutPositive("b", Identity("u2"), clock.Now() + minutes(5));
  EXPECT_EQ(cache.InvalidatePod("u1"), 2U);
  EXPECT_FALSE(cache.Get("a1"));
  EXPECT_FALSE(cache.Get("a2"));
  EXPECT_TRUE(cache.Get("b"));
  EXPECT_EQ(cache.InvalidatePod("u1"), 0U);
}

TEST(ReviewCacheTest, BoundedAndHoldsNoToken) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.max_entries = 3});
  for (int i = 0; i < 10; ++i) {
    cache.PutPositive("t" + std::to_string(i), Identity("u" + std::to_string(i)),
                      clock.Now() + minutes(5));
    EXPECT_LE(cache.Size(), 3U);
  }
  EXPECT_TRUE(cache.Get("t9"));
  EXPECT_EQ(ReviewCache::Digest("t9").size(), 64U);
}

}  // namespace
}  // namespace podiam::containercreds
