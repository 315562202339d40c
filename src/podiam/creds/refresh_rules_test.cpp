#include "podiam/creds/refresh_rules.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"

namespace podiam::creds {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

Result<aws::AssumeRoleResult> Issued(std::optional<Clock::WallTime> expiration) {
  aws::AssumeRoleResult result;
  result.credentials.access_key_id = "ASIAEXAMPLE";
  result.credentials.expiration = expiration;
  return result;
}

TEST(RefreshRulesTest, SanitizeClampsEveryOption) {
  BrokerOptions o = SanitizeBrokerOptions({.refresh_before = seconds(-1),
                                           .min_remaining = seconds(-5),
                                           .jitter_fraction = 3.0,
                                           .max_concurrent_sts = 0,
                                           .backoff_initial = milliseconds(0),
                                           .backoff_max = milliseconds(0),
                                           .negative_ttl = milliseconds(-1),
                                           .release_grace = milliseconds(-1)});
  EXPECT_EQ(o.refresh_before, seconds(0));
  EXPECT_EQ(o.min_remaining, seconds(0));
  EXPECT_EQ(o.jitter_fraction, 1.0);
  EXPECT_EQ(o.max_concurrent_sts, 1);
  EXPECT_EQ(o.backoff_initial, milliseconds(1));
  EXPECT_EQ(o.backoff_max, milliseconds(1));
  EXPECT_EQ(o.negative_ttl, milliseconds(0));
  EXPECT_EQ(o.release_grace, milliseconds(0));
  EXPECT_EQ(SanitizeBrokerOptions({.jitter_fraction = -1}).jitter_fraction, 0.0);
}

TEST(RefreshRulesTest, ClassifyFetchTable) {
  testing::FakeClock clock;
  const auto now = clock.Now();
  const seconds min_remaining = minutes(15);
  struct Case {
    const char* name;
    Result<aws::AssumeRoleResult> result;
    bool ok;
    std::string label;
    bool too_short;
    ErrorCode code;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"an hour left", Issued(now + minutes(60)), true, "ok", false, ErrorCode::kInternal});
  cases.push_back(
      {"exactly the minimum", Issued(now + minutes(15)), true, "ok", false, ErrorCode::kInternal});
  cases.push_back({"a second under the minimum", Issued(now + minutes(15) - seconds(1)), false,
                   "too_short", true, ErrorCode::kUnavailable});
  cases.push_back({"already expired", Issued(now - minutes(1)), false, "too_short", true,
                   ErrorCode::kUnavailable});
  cases.push_back({"no expiration", Issued(std::nullopt), false,
                   std::string(ErrorCodeName(ErrorCode::kUpstreamInvalid)), false,
                   ErrorCode::kUpstreamInvalid});
  cases.push_back({"access denied",
                   tl::unexpected(Error(ErrorCode::kPermissionDenied, "no", "AccessDenied")), false,
                   "AccessDenied", false, ErrorCode::kPermissionDenied});
  for (const auto& c : cases) {
    FetchVerdict v = ClassifyFetch(c.result, now, min_remaining);
    EXPECT_EQ(!v.error.has_value(), c.ok) << c.name;
    EXPECT_EQ(v.result_label, c.label) << c.name;
    EXPECT_EQ(v.too_short, c.too_short) << c.name;
    if (v.error) {
      EXPECT_EQ(v.error->code(), c.code) << c.name;
      EXPECT_EQ(v.error->retryable(), c.too_short) << c.name;
    }
  }
  auto short_one = ClassifyFetch(Issued(now + minutes(10)), now, min_remaining);
  EXPECT_NE(short_one.error->message().find("expire in 600 s, under the 900 s minimum"),
            std::string::npos)
      << short_one.error->message();
}

TEST(RefreshRulesTest, RefreshAtTable) {
  testing::FakeClock clock;
  testing::FakeRandom random;
  const auto now = clock.Now();
  const BrokerOptions o{
      .refresh_before = minutes(30), .min_remaining = minutes(15), .jitter_fraction = 0.1};
  struct Case {
    double draw;
    nanoseconds lifetime;
    nanoseconds refresh_after;  // from now
  };
  for (const auto& c : std::vector<Case>{
           {0.0, minutes(60), minutes(30)},                // no jitter
           {0.5, minutes(60), minutes(30) - seconds(90)},  // half of 10% of 30 min earlier
           {0.999999, minutes(60), minutes(27)},           // at most 10% earlier (rounded below)
           {0.0, minutes(40), minutes(10)},
           {0.0, minutes(29), minutes(7)},  // short-lived: halfway to expiry - 15 min
       }) {
    random.set_value(c.draw);
    auto at = RefreshAt(now + c.lifetime, now, o, random);
    EXPECT_NEAR(std::chrono::duration<double>(at - now).count(),
                std::chrono::duration<double>(c.refresh_after).count(), 0.01)
        << c.draw << " " << c.lifetime.count();
    EXPECT_LE(at, now + c.lifetime - o.min_remaining);  // never after the last servable moment
  }
}

TEST(RefreshRulesTest, BackoffDoublesUpToTheCapWithFullJitter) {
  testing::FakeRandom random(0.5);
  const BrokerOptions o{.backoff_initial = seconds(1), .backoff_max = seconds(60)};
  struct Case {
    int failures;
    double seconds_at_half;
  };
  for (const auto& c : std::vector<Case>{{1, 0.5}, {2, 1}, {3, 2}, {6, 16}, {7, 30}, {1000, 30}}) {
    EXPECT_DOUBLE_EQ(std::chrono::duration<double>(Backoff(c.failures, o, random)).count(),
                     c.seconds_at_half)
        << c.failures;
  }
  random.set_value(0.0);
  EXPECT_EQ(Backoff(5, o, random), nanoseconds(0));
}

TEST(RefreshRulesTest, ScheduleAfterFailure) {
  testing::FakeClock clock;
  const auto now = clock.SteadyNow();
  const BrokerOptions o{.negative_ttl = seconds(10)};
  const Error throttled(ErrorCode::kResourceExhausted, "Rate exceeded", "Throttling", true);
  const Error denied(ErrorCode::kPermissionDenied, "no", "AccessDenied");

  auto s = ScheduleAfterFailure(throttled, seconds(3), now, o);
  EXPECT_EQ(s.blocked_until, now + seconds(3));
  EXPECT_EQ(s.retry_at, now + seconds(3));
  s = ScheduleAfterFailure(denied, seconds(3), now, o);
  EXPECT_EQ(s.blocked_until, now + seconds(10));
  EXPECT_EQ(s.retry_at, now + seconds(10));
  s = ScheduleAfterFailure(denied, seconds(40), now, o);
  EXPECT_EQ(s.blocked_until, now + seconds(10));
  EXPECT_EQ(s.retry_at, now + seconds(40));
}

TEST(RefreshRulesTest, EntryStateAndFetchReasonTables) {
  struct Case {
    bool servable;
    bool busy;
    int failures;
    std::optional<bool> retryable;
    EntryState state;
  };
  for (const auto& c : std::vector<Case>{
           {true, true, 0, std::nullopt, EntryState::kRefreshing},
           {true, false, 2, true, EntryState::kRetrying},
           {true, false, 0, std::nullopt, EntryState::kValid},
           {false, true, 1, true, EntryState::kFetching},
           {false, false, 1, true, EntryState::kBackoff},
           {false, false, 1, false, EntryState::kFailed},
           {false, false, 0, std::nullopt, EntryState::kEmpty},
       }) {
    EXPECT_EQ(EntryStateOf(c.servable, c.busy, c.failures, c.retryable), c.state)
        << EntryStateName(c.state);
  }
  EXPECT_EQ(EntryStateName(EntryState::kBackoff), "backoff");
  EXPECT_EQ(BackgroundFetchReason(1, true), FetchReason::kRetry);
  EXPECT_EQ(BackgroundFetchReason(0, true), FetchReason::kRefresh);
  EXPECT_EQ(BackgroundFetchReason(0, false), FetchReason::kPrefetch);
  EXPECT_EQ(FetchReasonName(FetchReason::kMiss), "miss");
  EXPECT_EQ(FetchReasonName(FetchReason::kRetry), "retry");
}

}  // namespace
}  // namespace podiam::creds
