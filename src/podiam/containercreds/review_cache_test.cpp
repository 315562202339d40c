#include "podiam/containercreds/review_cache.hpp"

#include <gtest/gtest.h>

#include "podiam/testing/fake_clock.hpp"

namespace podiam::containercreds {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// The claims of a token expiring at `exp`.
JwtTimes Exp(Clock::WallTime exp) {
  return {.exp = std::chrono::duration_cast<seconds>(exp.time_since_epoch()).count()};
}

std::shared_ptr<const TokenIdentity> Identity(std::string uid) {
  return std::make_shared<const TokenIdentity>(
      TokenIdentity{.pod_name = "web", .pod_uid = std::move(uid)});
}

TEST(ReviewCacheTest, PositiveUntilExpCappedAtMax) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.max_positive = minutes(10)});
  cache.PutPositive("a", Identity("u1"), Exp(clock.Now() + minutes(3)));
  cache.PutPositive("b", Identity("u2"), Exp(clock.Now() + minutes(60)));
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
  cache.PutPositive("a", Identity("u1"), Exp(clock.Now() - seconds(1)));
  EXPECT_FALSE(cache.Get("a"));
  EXPECT_EQ(cache.Size(), 0U);
}

TEST(ReviewCacheTest, NegativeBriefly) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.negative = seconds(5)});
  cache.PutNegative("bad", "no", {.exp = 1, .nbf = 2});
  auto hit = cache.Get("bad");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->identity, nullptr);
  EXPECT_EQ(hit->error, "no");
  EXPECT_EQ(hit->times.exp, 1);
  EXPECT_EQ(hit->times.nbf, 2);
  clock.Advance(seconds(5));
  EXPECT_FALSE(cache.Get("bad"));
}

TEST(ReviewCacheTest, InvalidatePodDropsOnlyItsReviews) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {});
  cache.PutPositive("a1", Identity("u1"), Exp(clock.Now() + minutes(5)));
  cache.PutPositive("a2", Identity("u1"), Exp(clock.Now() + minutes(5)));
  cache.PutPositive("b", Identity("u2"), Exp(clock.Now() + minutes(5)));
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
                      Exp(clock.Now() + minutes(5)));
    EXPECT_LE(cache.Size(), 3U);
  }
  EXPECT_TRUE(cache.Get("t9"));
}

TEST(ReviewCacheTest, KeptClaimsComeBackAndKeysDependOnTheSecret) {
  testing::FakeClock clock;
  ReviewCache cache(clock, {.key = "0123456789abcdef"});
  JwtTimes times = Exp(clock.Now() + minutes(5));
  times.nbf = times.exp - 600;
  times.iat = times.exp - 600;
  cache.PutPositive("a", Identity("u1"), times);
  auto hit = cache.Get("a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->times.exp, times.exp);
  EXPECT_EQ(hit->times.nbf, times.nbf);
  EXPECT_FALSE(cache.Get("a "));
  ReviewCache other(clock, {.key = "fedcba9876543210"});
  EXPECT_NE(cache.KeyOf("a"), other.KeyOf("a"));
}

}  // namespace
}  // namespace podiam::containercreds
