#include "podiam/creds/credential_broker.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "podiam/testing/fake_clock.hpp"
#include "podiam/testing/fake_random.hpp"
#include "podiam/testing/fake_sts_client.hpp"

namespace podiam::creds {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRole[] = "arn:aws:iam::123456789012:role/app";
constexpr milliseconds kWait = std::chrono::seconds(10);  // real-time safety net only

CredentialSpec Spec(std::string session = "team-a.web", std::string role = kRole) {
  return {.key = {.role_arn = std::move(role),
                  .session_name = std::move(session),
                  .tags = {{.key = "kubernetes-namespace", .value = "team-a"}}}};
}

Error StsDown() {
  return {ErrorCode::kUnavailable, "connection refused", "ServiceUnavailable", /*retryable=*/true};
}

Error AccessDenied() {
  return {ErrorCode::kPermissionDenied, "not authorized to perform sts:AssumeRole", "AccessDenied",
          /*retryable=*/false};
}

class CredentialBrokerTest : public ::testing::Test {
 protected:
  void Make(BrokerOptions options = {}) {
    broker_ = std::make_unique<CredentialBroker>(sts_, clock_, random_, registry_, options);
  }

  Clock::SteadyTime Deadline(seconds in = seconds(30)) { return clock_.SteadyNow() + in; }

  // The value of one rendered series, e.g. Metric("podiam_creds_entries"); 0 when absent.
  double Metric(const std::string& series) const {
    const std::string text = "\n" + registry_.Render();
    const std::string needle = "\n" + series + " ";
    const auto pos = text.find(needle);
    if (pos == std::string::npos) {
      return 0;
    }
    return std::stod(text.substr(pos + needle.size()));
  }
  double Fetches(const std::string& reason, const std::string& result) const {
    return Metric("podiam_creds_sts_fetches_total{reason=\"" + reason + "\",result=\"" + result +
                  "\"}");
  }
  double GetErrors(const std::string& reason) const {
    return Metric("podiam_creds_get_errors_total{reason=\"" + reason + "\"}");
  }
  double Lookups(const std::string& api, const std::string& result) const {
    return Metric("podiam_creds_lookups_total{api=\"" + api + "\",result=\"" + result + "\"}");
  }

  // Runs Tick() and lets the worker threads finish what it queued.
  void TickAndSettle() {
    broker_->Tick();
    ASSERT_TRUE(broker_->AwaitIdle(kWait));
  }

  // Polls (1 ms steps, real time) until `done` or the safety timeout; for conditions no
  // callback announces, such as "all callers are now waiting inside Get()".
  template <typename F>
  static bool Eventually(F done) {
    const auto until = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) {
        return false;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    return true;
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_{0.5};
  testing::FakeStsClient sts_{clock_, hours(1)};
  metrics::Registry registry_;
  std::unique_ptr<CredentialBroker> broker_;  // last: stopped before the fakes go
};

TEST_F(CredentialBrokerTest, TenPodsSharingOneKeyCauseOneStsCall) {
  Make();
  for (int pod = 0; pod < 10; ++pod) {
    broker_->Retain(Spec());
  }
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  for (int pod = 0; pod < 10; ++pod) {
    auto creds = broker_->Cached(Spec().key);
    ASSERT_NE(creds, nullptr);
    EXPECT_EQ(creds->access_key_id, "ASIAFAKE100001");
  }
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  EXPECT_EQ(broker_->Size(), 1U);
  EXPECT_EQ(Fetches("prefetch", "ok"), 1);
  EXPECT_EQ(Lookups("cached", "hit"), 10);
  EXPECT_EQ(Metric("podiam_creds_entries"), 1);

  // The request carries the spec's key and the rest of what AssumeRole needs.
  const auto requests = sts_.Requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].role_arn, kRole);
  EXPECT_EQ(requests[0].role_session_name, "team-a.web");
  EXPECT_EQ(requests[0].duration_seconds, 3600);
  EXPECT_EQ(requests[0].tags, Spec().key.tags);
}

// A source other than STS (a podiam server, Vault) is called with the spec and the broker's
// default duration, and its result is cached and served like STS's.
class RecordingSource final : public CredentialSource {
 public:
  explicit RecordingSource(const Clock& clock) : clock_(clock) {}
  Result<aws::AssumeRoleResult> Fetch(const CredentialSpec& spec,
                                      int default_duration_seconds) override {
    ++calls;
    last_role = spec.key.role_arn;
    last_duration = default_duration_seconds;
    if (fail) {
      return tl::unexpected(Error{ErrorCode::kUnavailable, "vault sealed", "VaultSealed",
                                  /*retryable=*/true});
    }
    aws::AssumeRoleResult result;
    result.credentials = {.access_key_id = "ASIASOURCE",
                          .secret_access_key = "secret",
                          .session_token = "token",
                          .expiration = clock_.Now() + hours(1)};
    return result;
  }
  [[nodiscard]] std::string_view Name() const override { return "recording"; }

  std::atomic<int> calls{0};
  std::string last_role;
  int last_duration = 0;
  bool fail = false;

 private:
  const Clock& clock_;
};

TEST_F(CredentialBrokerTest, AnotherCredentialSourceIsUsedInsteadOfSts) {
  RecordingSource source(clock_);
  {
    CredentialBroker broker(source, clock_, random_, registry_, {.duration_seconds = 1800});
    broker.Retain(Spec());
    ASSERT_TRUE(broker.AwaitIdle(kWait));
    auto creds = broker.Cached(Spec().key);
    ASSERT_NE(creds, nullptr);
    EXPECT_EQ(creds->access_key_id, "ASIASOURCE");
    EXPECT_EQ(source.calls, 1);
    EXPECT_EQ(source.last_role, kRole);
    EXPECT_EQ(source.last_duration, 1800);
  }
  EXPECT_EQ(sts_.AssumeRoleCalls(), 0);
}

TEST_F(CredentialBrokerTest, AnotherSourcesErrorKeepsItsCode) {
  RecordingSource source(clock_);
  source.fail = true;
  CredentialBroker broker(source, clock_, random_, registry_);
  auto got = broker.Get(Spec(), Deadline());
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().upstream_code(), "VaultSealed");
  EXPECT_TRUE(got.error().retryable());
}

TEST_F(CredentialBrokerTest, CachedNeverFetches) {
  Make();
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 0);
  EXPECT_EQ(Lookups("cached", "miss"), 1);
}

TEST_F(CredentialBrokerTest, ConcurrentGetsOfAMissingKeyShareOneCall) {
  Make();
  sts_.Block();
  constexpr int kCallers = 8;
  std::vector<Result<aws::Credentials>> results(kCallers, MakeError(ErrorCode::kInternal, "unset"));
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] { results[i] = broker_->Get(Spec(), Deadline()); });
  }
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  // Every caller has missed and is waiting for the one parked call.
  ASSERT_TRUE(Eventually([&] { return Lookups("get", "miss") == kCallers; }));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  sts_.Unblock();
  for (auto& t : callers) {
    t.join();
  }
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->access_key_id, "ASIAFAKE100001");
  }
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  EXPECT_EQ(Fetches("miss", "ok"), 1);
}

TEST_F(CredentialBrokerTest, ConcurrentGetsAllGetTheErrorOfTheSharedCall) {
  Make();
  sts_.Fail(StsDown());
  sts_.Block();
  constexpr int kCallers = 4;
  std::vector<Result<aws::Credentials>> results(kCallers, MakeError(ErrorCode::kInternal, "unset"));
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] { results[i] = broker_->Get(Spec(), Deadline()); });
  }
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  ASSERT_TRUE(Eventually([&] { return Lookups("get", "miss") == kCallers; }));
  sts_.Unblock();
  for (auto& t : callers) {
    t.join();
  }
  for (const auto& r : results) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().upstream_code(), "ServiceUnavailable");
    EXPECT_THAT(r.error().message(), HasSubstr(kRole));
  }
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);  // nobody started a call of their own
  EXPECT_EQ(GetErrors("fetch_failed"), kCallers);
  EXPECT_EQ(Fetches("miss", "ServiceUnavailable"), 1);
}

TEST_F(CredentialBrokerTest, RefreshHappensAtExpiryMinusRefreshBeforeMinusJitterAndNotBefore) {
  Make();  // refresh_before 30 min, jitter 10 % of it, FakeRandom 0.5: 90 s earlier
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  const auto fetched = clock_.Now();
  const auto refresh_at = fetched + hours(1) - minutes(30) - seconds(90);
  ASSERT_EQ(broker_->Stats().entries.at(0).refresh_at, refresh_at);

  clock_.Advance(refresh_at - fetched - seconds(1));
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  EXPECT_EQ(broker_->Stats().entries.at(0).state, EntryState::kValid);

  clock_.Advance(seconds(1));
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  EXPECT_EQ(Fetches("refresh", "ok"), 1);
  auto creds = broker_->Cached(Spec().key);
  ASSERT_NE(creds, nullptr);
  EXPECT_EQ(creds->access_key_id, "ASIAFAKE100002");
  EXPECT_EQ(creds->expiration, clock_.Now() + hours(1));
}

TEST_F(CredentialBrokerTest, FreshGetRefreshesCredentialsInsideTheRefreshWindowOnce) {
  Make();
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  // Before the refresh time: fresh or not, the cached credentials, no call.
  auto early = broker_->Get(Spec(), Deadline(), /*fresh=*/true);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->access_key_id, "ASIAFAKE100001");
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  // Inside the refresh window, before the ticker ran: a plain Get serves the old ones, a fresh
  // one makes the entry's refresh now and gets its result.
  clock_.Advance(minutes(31));
  EXPECT_EQ(broker_->Get(Spec(), Deadline())->access_key_id, "ASIAFAKE100001");
  auto fresh = broker_->Get(Spec(), Deadline(), /*fresh=*/true);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->access_key_id, "ASIAFAKE100002");
  EXPECT_EQ(fresh->expiration, clock_.Now() + hours(1));
  EXPECT_EQ(Fetches("refresh", "ok"), 1);
  // That was the entry's refresh: the ticker does not make another.
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  // A failing refresh: the still-servable credentials, not an error.
  clock_.Advance(minutes(31));
  sts_.Fail(StsDown());
  auto kept = broker_->Get(Spec(), Deadline(), /*fresh=*/true);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->access_key_id, "ASIAFAKE100002");
  EXPECT_EQ(sts_.AssumeRoleCalls(), 3);
  // Backing off after it: served at once without another call.
  EXPECT_TRUE(broker_->Get(Spec(), Deadline(), /*fresh=*/true).has_value());
  EXPECT_EQ(sts_.AssumeRoleCalls(), 3);
}

TEST_F(CredentialBrokerTest, JitterSpreadsRefreshesOfEntriesMadeTogether) {
  Make();
  random_.set_value(0.0);
  broker_->Retain(Spec("a"));
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  random_.set_value(0.99);
  broker_->Retain(Spec("b"));
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  const auto stats = broker_->Stats();
  ASSERT_EQ(stats.entries.size(), 2U);
  const auto expiry = clock_.Now() + hours(1);
  EXPECT_EQ(stats.entries[0].refresh_at, expiry - minutes(30));
  // 0.99 of 10 % of 30 min = 178.2 s earlier.
  EXPECT_EQ(stats.entries[1].refresh_at, expiry - minutes(30) - milliseconds(178200));
}

TEST_F(CredentialBrokerTest, RefreshFailureKeepsServingValidCredentialsThenStopsAt15Minutes) {
  Make();
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_FALSE(broker_->LastError(Spec().key));
  const auto expiry = clock_.Now() + hours(1);
  sts_.Fail(StsDown());

  clock_.Advance(minutes(30));  // past the refresh time
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  // Still served, and the failing refresh is visible (the controller's RefreshFailing).
  ASSERT_TRUE(broker_->LastError(Spec().key));
  EXPECT_EQ(broker_->LastError(Spec().key)->upstream_code(), "ServiceUnavailable");
  EXPECT_EQ(Metric("podiam_creds_refresh_failures_total"), 1);
  EXPECT_EQ(Fetches("refresh", "ServiceUnavailable"), 1);
  EXPECT_EQ(broker_->Stats().entries.at(0).state, EntryState::kRetrying);
  ASSERT_NE(broker_->Cached(Spec().key), nullptr);
  auto still = broker_->Get(Spec(), Deadline());
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->access_key_id, "ASIAFAKE100001");

  // Keep retrying (and failing) until exactly 15 min are left: still served.
  while (clock_.Now() < expiry - minutes(15)) {
    clock_.Advance(
        std::min<Clock::WallTime::duration>(seconds(10), expiry - minutes(15) - clock_.Now()));
    TickAndSettle();
    ASSERT_NE(broker_->Cached(Spec().key), nullptr);
  }
  EXPECT_EQ(Metric("podiam_creds_min_remaining_seconds"), 15 * 60);

  clock_.Advance(seconds(1));  // 14:59 left: never served again
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
  auto refused = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().upstream_code(), "ServiceUnavailable");
  EXPECT_GT(GetErrors("backoff") + GetErrors("fetch_failed"), 0);
  TickAndSettle();
  EXPECT_EQ(Metric("podiam_creds_min_remaining_seconds"), 0);
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
}

TEST_F(CredentialBrokerTest, BackoffBoundsStsCallsWhileStsIsDown) {
  Make();  // backoff 1 s doubling to 60 s, full jitter; FakeRandom 0.5 halves each delay
  sts_.Fail(StsDown());
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  int gets = 0;
  int errors = 0;
  // Ten minutes of ten polling pods per second, plus the ticker every second.
  for (int second = 0; second < 600; ++second) {
    clock_.Advance(seconds(1));
    TickAndSettle();
    for (int pod = 0; pod < 10; ++pod) {
      auto r = broker_->Get(Spec(), Deadline());
      ++gets;
      ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error().upstream_code(), "ServiceUnavailable");
      ++errors;
    }
  }
  // Delays 0.5, 1, 2, 4, 8, 16, then 30 s each: about 27 calls in 600 s, not 6000.
  EXPECT_LE(sts_.AssumeRoleCalls(), 28);
  EXPECT_GE(sts_.AssumeRoleCalls(), 20);
  EXPECT_EQ(errors, gets);
  EXPECT_GT(GetErrors("backoff"), 5000);
  EXPECT_EQ(Metric("podiam_creds_sts_in_flight"), 0);

  // STS recovers: the next retry succeeds and the entry is served again.
  sts_.Heal();
  clock_.Advance(seconds(31));
  TickAndSettle();
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);
  EXPECT_FALSE(broker_->LastError(Spec().key));  // a success clears it
  EXPECT_EQ(Fetches("retry", "ok"), 1);
  EXPECT_EQ(broker_->Stats().entries.at(0).consecutive_failures, 0);
}

TEST_F(CredentialBrokerTest, BackoffErrorSaysWhenTheNextAttemptIs) {
  Make();
  sts_.Fail(Error(ErrorCode::kResourceExhausted, "Rate exceeded", "Throttling", true));
  auto first = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().upstream_code(), "Throttling");
  EXPECT_EQ(Fetches("miss", "Throttling"), 1);
  auto second = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(second.error().retryable());
  EXPECT_THAT(second.error().message(), HasSubstr("not retried for another 500 ms"));
  EXPECT_EQ(GetErrors("backoff"), 1);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  EXPECT_EQ(broker_->Stats().entries.at(0).state, EntryState::kBackoff);
}

TEST_F(CredentialBrokerTest, AccessDeniedIsNegativeCached) {
  Make();  // negative_ttl 10 s
  sts_.Fail(AccessDenied());
  auto first = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(first.error().upstream_code(), "AccessDenied");
  EXPECT_FALSE(first.error().retryable());
  EXPECT_EQ(Fetches("miss", "AccessDenied"), 1);
  EXPECT_EQ(GetErrors("fetch_failed"), 1);

  // A pod polling in a loop: the same answer, no STS call.
  for (int i = 0; i < 100; ++i) {
    auto again = broker_->Get(Spec(), Deadline());
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().upstream_code(), "AccessDenied");
    clock_.Advance(milliseconds(99));
  }
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  EXPECT_EQ(GetErrors("negative"), 100);
  EXPECT_EQ(broker_->Stats().entries.at(0).state, EntryState::kFailed);

  clock_.Advance(milliseconds(100));  // 10 s after the failure
  sts_.Heal();
  auto fixed = broker_->Get(Spec(), Deadline());
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
}

TEST_F(CredentialBrokerTest, RetainedEntryWithAccessDeniedRetriesInTheBackgroundSlowly) {
  Make();
  sts_.Fail(AccessDenied());
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(Fetches("prefetch", "AccessDenied"), 1);
  for (int second = 0; second < 120; ++second) {
    clock_.Advance(seconds(1));
    TickAndSettle();
  }
  // At least negative_ttl apart, growing with the backoff: 10, 10, 10, 10, 10, 16, 30, 30 s.
  EXPECT_LE(sts_.AssumeRoleCalls(), 10);
  EXPECT_GE(sts_.AssumeRoleCalls(), 6);
}

TEST_F(CredentialBrokerTest, CredentialsNearExpiryOnArrivalAreRefusedAndRefreshed) {
  Make();
  sts_.set_lifetime(minutes(10));  // e.g. a role whose max session is short, or a skewed clock
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(Fetches("prefetch", "too_short"), 1);
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
  EXPECT_EQ(broker_->Stats().entries.at(0).state, EntryState::kBackoff);

  auto refused = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(refused.error().message(), HasSubstr("expire in 600 s, under the 900 s minimum"));
  EXPECT_EQ(GetErrors("backoff"), 1);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);

  sts_.set_lifetime(hours(1));
  clock_.Advance(seconds(1));  // past the first backoff (0.5 s)
  TickAndSettle();
  EXPECT_EQ(Fetches("retry", "ok"), 1);
  auto creds = broker_->Cached(Spec().key);
  ASSERT_NE(creds, nullptr);
  EXPECT_EQ(creds->expiration, clock_.Now() + hours(1));
}

TEST_F(CredentialBrokerTest, GetOfTooShortCredentialsReportsWhy) {
  Make();
  sts_.set_lifetime(minutes(14));
  auto r = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().retryable());
  EXPECT_THAT(r.error().message(), HasSubstr("maximum session duration"));
  EXPECT_EQ(GetErrors("too_short"), 1);
  EXPECT_EQ(Fetches("miss", "too_short"), 1);
}

TEST_F(CredentialBrokerTest, EntryIsDroppedAfterLastReleaseAndGraceAndNeverServedAfter) {
  Make();  // release_grace 30 s
  broker_->Retain(Spec());
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  broker_->Release(Spec().key);
  clock_.Advance(minutes(1));
  TickAndSettle();
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);  // one pod still uses it

  broker_->Release(Spec().key);
  clock_.Advance(seconds(29));
  TickAndSettle();
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);  // in grace

  // A pod restarted under the same name within the grace period reuses the entry.
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  broker_->Release(Spec().key);

  clock_.Advance(seconds(30));
  // Due for dropping: not served even before Tick() gets to it.
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
  TickAndSettle();
  EXPECT_EQ(broker_->Size(), 0U);
  EXPECT_EQ(Metric("podiam_creds_entries_dropped_total"), 1);
  EXPECT_EQ(Metric("podiam_creds_entries"), 0);
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);

  // Asking again starts from scratch.
  auto fresh = broker_->Get(Spec(), Deadline());
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->access_key_id, "ASIAFAKE100002");
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
}

TEST_F(CredentialBrokerTest, GraceOverButNotTickedIsNotRevivedByRetainOrGet) {
  Make();
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  broker_->Release(Spec().key);
  clock_.Advance(seconds(31));
  broker_->Retain(Spec());  // no Tick() in between
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  EXPECT_EQ(broker_->Cached(Spec().key)->access_key_id, "ASIAFAKE100002");
  EXPECT_EQ(Metric("podiam_creds_entries_dropped_total"), 1);
}

TEST_F(CredentialBrokerTest, CallInFlightForADroppedEntryIsDiscarded) {
  Make();
  sts_.Block();
  broker_->Retain(Spec());
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  broker_->Release(Spec().key);
  clock_.Advance(seconds(31));
  broker_->Tick();
  EXPECT_EQ(broker_->Size(), 0U);
  sts_.Unblock();
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(broker_->Size(), 0U);
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
  EXPECT_EQ(Fetches("prefetch", "ok"), 1);
}

TEST_F(CredentialBrokerTest, ZeroGraceDropsAtOnce) {
  Make({.release_grace = milliseconds(0)});
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  broker_->Release(Spec().key);
  EXPECT_EQ(broker_->Size(), 0U);
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);
}

TEST_F(CredentialBrokerTest, UnretainedEntryLivesForTheGraceAfterItsLastGet) {
  Make();
  ASSERT_TRUE(broker_->Get(Spec(), Deadline()).has_value());
  clock_.Advance(seconds(20));
  ASSERT_TRUE(broker_->Get(Spec(), Deadline()).has_value());  // a hit; extends the life
  EXPECT_EQ(Lookups("get", "hit"), 1);
  clock_.Advance(seconds(20));
  TickAndSettle();
  EXPECT_EQ(broker_->Size(), 1U);
  clock_.Advance(seconds(11));
  TickAndSettle();
  EXPECT_EQ(broker_->Size(), 0U);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);  // and it was never refreshed in the background
}

TEST_F(CredentialBrokerTest, ExtraReleasesAreIgnored) {
  Make();
  broker_->Release(Spec().key);
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  broker_->Release(Spec().key);
  broker_->Release(Spec().key);
  broker_->Retain(Spec());
  clock_.Advance(minutes(5));
  TickAndSettle();
  EXPECT_EQ(broker_->Size(), 1U);
  EXPECT_EQ(broker_->Stats().entries.at(0).users, 1);
}

TEST_F(CredentialBrokerTest, ConcurrencyBoundIsHonoured) {
  Make({.max_concurrent_sts = 3});
  sts_.Block();
  for (int pod = 0; pod < 10; ++pod) {
    broker_->Retain(Spec("pod-" + std::to_string(pod)));
  }
  ASSERT_TRUE(sts_.AwaitBlocked(3));
  auto stats = broker_->Stats();
  EXPECT_EQ(stats.in_flight, 3U);
  EXPECT_EQ(stats.queued, 7U);
  EXPECT_EQ(Metric("podiam_creds_sts_in_flight"), 3);
  EXPECT_EQ(Metric("podiam_creds_sts_queued"), 7);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 3);
  // Let them through one at a time: a freed worker takes the next one, never a fourth.
  for (int done = 1; done <= 7; ++done) {
    ASSERT_TRUE(sts_.ReleaseOne());
    ASSERT_TRUE(sts_.AwaitCalls(3 + done));
    ASSERT_TRUE(sts_.AwaitBlocked(3));
  }
  sts_.Unblock();
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 10);
  EXPECT_EQ(sts_.MaxInFlight(), 3);
  EXPECT_EQ(broker_->Stats().queued, 0U);
}

TEST_F(CredentialBrokerTest, ForegroundMissesGoAheadOfBackgroundWork) {
  Make({.max_concurrent_sts = 1});
  sts_.Block();
  broker_->Retain(Spec("a"));
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  broker_->Retain(Spec("b"));
  broker_->Retain(Spec("c"));
  broker_->Retain(Spec("d"));
  Result<aws::Credentials> miss = MakeError(ErrorCode::kInternal, "unset");
  Result<aws::Credentials> promoted = MakeError(ErrorCode::kInternal, "unset");
  std::thread miss_caller([&] { miss = broker_->Get(Spec("e"), Deadline()); });
  // A Get() of an entry whose prefetch is queued moves it ahead too.
  std::thread promoted_caller([&] { promoted = broker_->Get(Spec("d"), Deadline()); });
  ASSERT_TRUE(Eventually([&] { return Lookups("get", "miss") == 2; }));
  sts_.Unblock();
  miss_caller.join();
  promoted_caller.join();
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  ASSERT_TRUE(miss.has_value());
  ASSERT_TRUE(promoted.has_value());

  std::vector<std::string> order;
  for (const auto& request : sts_.Requests()) {
    order.push_back(request.role_session_name);
  }
  ASSERT_EQ(order.size(), 5U);
  EXPECT_EQ(order[0], "a");
  EXPECT_THAT((std::vector<std::string>{order[1], order[2]}),
              ::testing::UnorderedElementsAre("d", "e"));
  EXPECT_EQ(order[3], "b");
  EXPECT_EQ(order[4], "c");
}

TEST_F(CredentialBrokerTest, DeadlineIsHonouredAndTheFetchGoesOn) {
  Make();
  sts_.Block();
  Result<aws::Credentials> r = MakeError(ErrorCode::kInternal, "unset");
  std::thread caller([&] { r = broker_->Get(Spec(), Deadline(seconds(2))); });
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  ASSERT_TRUE(Eventually([&] { return Lookups("get", "miss") == 1; }));
  clock_.Advance(seconds(3));
  broker_->Tick();  // wakes waiters to look at the (fake) clock
  caller.join();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_THAT(r.error().message(), HasSubstr(kRole));
  EXPECT_EQ(GetErrors("deadline"), 1);

  sts_.Unblock();
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);  // the call finished and was cached
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
}

TEST_F(CredentialBrokerTest, PastDeadlineFailsAtOnceButStartsTheFetch) {
  Make();
  sts_.Block();
  auto r = broker_->Get(Spec(), clock_.SteadyNow());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kDeadlineExceeded);
  ASSERT_TRUE(sts_.AwaitBlocked(1));
  sts_.Unblock();
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);
}

TEST_F(CredentialBrokerTest, StopWhileCallsAreInFlightExitsCleanly) {
  Make({.max_concurrent_sts = 2});
  broker_->Start();
  sts_.Block();
  broker_->Retain(Spec("queued-1"));
  broker_->Retain(Spec("queued-2"));
  broker_->Retain(Spec("queued-3"));  // waits for a worker
  Result<aws::Credentials> r = MakeError(ErrorCode::kInternal, "unset");
  std::thread caller([&] { r = broker_->Get(Spec("waiting"), Deadline(seconds(3600))); });
  ASSERT_TRUE(sts_.AwaitBlocked(2));
  ASSERT_TRUE(Eventually([&] { return Lookups("get", "miss") == 1; }));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    broker_->Stop();
    stopped = true;
  });
  caller.join();  // woken by Stop() although its call never ran
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message(), HasSubstr("stopped"));
  EXPECT_EQ(GetErrors("stopped"), 1);
  EXPECT_FALSE(stopped);  // still waiting for the two parked calls
  sts_.Unblock();
  stopper.join();
  EXPECT_TRUE(stopped);
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);                       // the queued ones never ran
  EXPECT_EQ(broker_->Cached(Spec("queued-1").key), nullptr);  // results of a stopped broker

  auto after = broker_->Get(Spec(), Deadline());
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code(), ErrorCode::kUnavailable);
  broker_->Stop();   // idempotent
  broker_->Start();  // and no restart
  broker_->Retain(Spec("late"));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
}

// A spec that differs in anything sent to STS, or in its owner, is another entry: one caller can
// never rewrite the tags or SourceIdentity of credentials another caller is served.
TEST_F(CredentialBrokerTest, SpecsDifferingInTagsOrOwnerNeverShareAnEntry) {
  Make();
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  CredentialSpec other_tags = Spec();
  other_tags.key.tags = {{.key = "kubernetes-namespace", .value = "team-b"}};
  CredentialSpec other_identity = Spec();
  other_identity.key.source_identity = "web";
  CredentialSpec other_owner = Spec();
  other_owner.key.owner = "pod/another-uid";
  broker_->Retain(other_tags);
  broker_->Retain(other_identity);
  broker_->Retain(other_owner);
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  const auto requests = sts_.Requests();
  ASSERT_EQ(requests.size(), 4U);
  EXPECT_EQ(requests[0].tags, Spec().key.tags);
  // The other three run concurrently, in any order: each was made with its own spec.
  auto made = [&](auto matches) { return std::any_of(requests.begin(), requests.end(), matches); };
  EXPECT_TRUE(made([&](const aws::AssumeRoleRequest& r) { return r.tags == other_tags.key.tags; }));
  EXPECT_TRUE(made([](const aws::AssumeRoleRequest& r) { return r.source_identity == "web"; }));
  auto first = broker_->Cached(Spec().key);
  auto second = broker_->Cached(other_owner.key);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->access_key_id, second->access_key_id);
  EXPECT_EQ(broker_->Stats().entries.size(), 4U);
}

TEST_F(CredentialBrokerTest, TargetRoleIsOneEntryOfTwoCallsNeverMixedWithTheDirectRole) {
  Make();
  CredentialSpec chained = Spec();
  chained.key.target_role_arn = "arn:aws:iam::210987654321:role/target";
  broker_->Retain(chained);
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  auto via_target = broker_->Cached(chained.key);
  ASSERT_NE(via_target, nullptr);
  EXPECT_EQ(via_target->access_key_id, "ASIAFAKE100002");  // the second hop's credentials
  EXPECT_EQ(broker_->Cached(Spec().key), nullptr);         // same role, no target: not cached
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  auto direct = broker_->Cached(Spec().key);
  ASSERT_NE(direct, nullptr);
  EXPECT_NE(direct->access_key_id, via_target->access_key_id);
  EXPECT_EQ(broker_->Size(), 2U);
  EXPECT_EQ(Fetches("prefetch", "ok"), 2);  // one fetch per entry, however many calls
  const auto signers = sts_.Signers();
  ASSERT_EQ(signers.size(), 3U);
  EXPECT_EQ(signers[1], "ASIAFAKE100001");
}

TEST_F(CredentialBrokerTest, StatsDescribeEntriesWithoutSecrets) {
  Make();
  CredentialSpec spec = Spec();
  spec.key.external_id = "very-secret-external-id";
  spec.key.session_policy = R"({"Version":"2012-10-17"})";
  broker_->Retain(spec);
  broker_->Retain(Spec("other"));
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  const auto stats = broker_->Stats();
  ASSERT_EQ(stats.entries.size(), 2U);
  const EntryStats& e = stats.entries[1];
  EXPECT_EQ(e.role_arn, kRole);
  EXPECT_EQ(e.session_name, "team-a.web");
  EXPECT_TRUE(e.has_external_id);
  EXPECT_TRUE(e.has_session_policy);
  EXPECT_EQ(e.users, 1);
  EXPECT_EQ(e.state, EntryState::kValid);
  EXPECT_EQ(EntryStateName(e.state), "valid");
  EXPECT_EQ(e.expiration, clock_.Now() + hours(1));
  EXPECT_EQ(stats.entries[0].session_name, "other");
  EXPECT_FALSE(stats.entries[0].has_external_id);
}

TEST_F(CredentialBrokerTest, LogsNameRoleAndSessionButNoSecrets) {
  log::Capture capture;
  log::Configure({.level = log::Level::kDebug});
  Make();
  CredentialSpec spec = Spec();
  spec.key.external_id = "very-secret-external-id";
  broker_->Retain(spec);
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  sts_.Fail(AccessDenied());
  clock_.Advance(minutes(31));
  TickAndSettle();
  broker_.reset();
  log::Configure({});
  const std::string text = capture.Text();
  EXPECT_THAT(text, HasSubstr("credentials fetched"));
  EXPECT_THAT(text, HasSubstr("credential fetch failed"));
  EXPECT_THAT(text, HasSubstr("team-a.web"));
  EXPECT_THAT(text, HasSubstr(kRole));
  EXPECT_THAT(text, Not(HasSubstr("fake-secret")));
  EXPECT_THAT(text, Not(HasSubstr("fake-token")));
  EXPECT_THAT(text, Not(HasSubstr("very-secret-external-id")));
}

TEST_F(CredentialBrokerTest, ShortDurationRefreshesHalfwayThroughTheServableWindow) {
  Make({.duration_seconds = 1800});
  sts_.set_lifetime(minutes(30));
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.Requests().at(0).duration_seconds, 1800);
  // Servable for 15 min; refreshed after 7.5 min rather than at once.
  EXPECT_EQ(broker_->Stats().entries.at(0).refresh_at, clock_.Now() + minutes(7) + seconds(30));
  clock_.Advance(minutes(7));
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 1);
  clock_.Advance(seconds(30));
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
}

// STS may issue less than was asked for: the schedule follows the Expiration it returned.
TEST_F(CredentialBrokerTest, RefreshFollowsTheLifetimeStsReturnedNotTheOneRequested) {
  Make({.duration_seconds = 12 * 3600});
  sts_.set_lifetime(hours(1));
  broker_->Retain(Spec());
  ASSERT_TRUE(broker_->AwaitIdle(kWait));
  EXPECT_EQ(sts_.Requests().at(0).duration_seconds, 12 * 3600);
  EXPECT_EQ(broker_->Stats().entries.at(0).refresh_at,
            clock_.Now() + hours(1) - minutes(30) - seconds(90));
  clock_.Advance(minutes(29));
  TickAndSettle();
  EXPECT_EQ(sts_.AssumeRoleCalls(), 2);
  EXPECT_NE(broker_->Cached(Spec().key), nullptr);
}

}  // namespace
}  // namespace podiam::creds
