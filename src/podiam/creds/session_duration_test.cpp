#include "podiam/creds/session_duration.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace podiam::creds {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::HasSubstr;

TEST(SessionDurationTest, DefaultsWork) {
  EXPECT_TRUE(CheckSessionDuration({.duration = hours(1), .refresh_before = minutes(30)}));
  EXPECT_TRUE(CheckSessionDuration({.duration = hours(12), .refresh_before = minutes(30)}));
  EXPECT_TRUE(CheckSessionDuration(
      {.duration = hours(1), .refresh_before = minutes(30), .role_chaining = true}));
}

// kiam's --session-duration default: every credential would arrive already unservable.
TEST(SessionDurationTest, KiamsFifteenMinutesIsRefusedWithWhatWouldWork) {
  auto r = CheckSessionDuration({.duration = minutes(15), .refresh_before = minutes(30)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("--session-duration 15m is too short"));
  EXPECT_THAT(r.error().message(), HasSubstr("at least 50m"));
  // With kiam's --session-refresh 5m too.
  r = CheckSessionDuration({.duration = minutes(15), .refresh_before = minutes(5)});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("at least 25m"));
  EXPECT_TRUE(CheckSessionDuration({.duration = minutes(25), .refresh_before = minutes(5)}));
}

TEST(SessionDurationTest, UpperLimits) {
  auto r = CheckSessionDuration({.duration = hours(13), .refresh_before = minutes(30)});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("at most 12h"));
  r = CheckSessionDuration(
      {.duration = hours(2), .refresh_before = minutes(30), .role_chaining = true});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("role chaining"));
  EXPECT_THAT(r.error().message(), HasSubstr("1h"));
}

TEST(SessionDurationTest, RefreshMarginThatLeavesNothing) {
  auto r = CheckSessionDuration({.duration = hours(12), .refresh_before = hours(12)});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("--refresh-before 12h is too long"));
  EXPECT_FALSE(CheckSessionDuration({.duration = hours(1), .refresh_before = minutes(-1)}));
}

}  // namespace
}  // namespace podiam::creds
