// The per-entry rules of CredentialBroker, without threads or locks: which options are in range,
// what a finished AssumeRole call means (served, too short, failed), when to refresh, how long to
// back off, when to retry after a failure, which fetch comes next and what state /debug shows.
// Every input is a value or the injected Random, so each rule is table-tested on its own
// (refresh_rules_test.cpp); the broker holds its lock around the calls that draw randomness.
//
// The rule the broker exists for (docs/protocols.md#sdk-expiry-rules): never hand out credentials
// with less than min_remaining (15 min) left.
//
// Thread-safety: pure functions; the Random passed in must not be used concurrently.
//
//   BrokerOptions o = SanitizeBrokerOptions(options);
//   FetchVerdict v = ClassifyFetch(result, clock.Now(), o.min_remaining);
//   if (!v.error) { entry.refresh_at = RefreshAt(expiration, now, o, random); }
//   else { FailureSchedule s = ScheduleAfterFailure(*v.error, Backoff(n, o, random), steady, o); }
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "podiam/aws/sts_client.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"

namespace podiam::creds {

struct BrokerOptions {
  // Start refreshing this long before expiry. Keep it above min_remaining so that a refresh has
  // time to fail and be retried before the old credentials stop being servable.
  std::chrono::seconds refresh_before = std::chrono::minutes(30);
  // Never serve credentials with less than this left (docs/protocols.md#sdk-expiry-rules).
  std::chrono::seconds min_remaining = std::chrono::minutes(15);
  // Refresh up to this fraction of refresh_before earlier still, drawn per fetch, so that entries
  // made together (a node start, a big rollout) do not all refresh in the same second.
  double jitter_fraction = 0.1;
  // AssumeRole calls in flight at most, across all entries (the number of worker threads).
  int max_concurrent_sts = 8;
  // Retry delay after the n-th consecutive failure: uniform in [0, min(max, initial * 2^(n-1))]
  // ("full jitter").
  std::chrono::milliseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::milliseconds backoff_max = std::chrono::seconds(60);
  // How long a non-retryable error (AccessDenied, ValidationError, ...) is returned to Get()
  // without asking STS again.
  std::chrono::milliseconds negative_ttl = std::chrono::seconds(10);
  // How long an entry outlives its last user.
  std::chrono::milliseconds release_grace = std::chrono::seconds(30);
  // DurationSeconds of AssumeRole when the spec does not say.
  int duration_seconds = 3600;
};

// Options clamped into range: at least one worker, jitter in [0, 1], backoff_initial >= 1 ms,
// backoff_max >= backoff_initial, no negative durations.
BrokerOptions SanitizeBrokerOptions(BrokerOptions options);

// What an entry is doing, for /debug and `podiam explain`.
enum class EntryState {
  kFetching,    // no servable credentials; a call is queued or in flight
  kValid,       // servable credentials; nothing to do until the refresh time
  kRefreshing,  // servable credentials; a refresh is queued or in flight
  kRetrying,    // servable credentials; the last refresh failed and a retry is scheduled
  kBackoff,     // no servable credentials; the last call failed with a retryable error
  kFailed,      // no servable credentials; a non-retryable error is negative-cached
  kEmpty,       // no servable credentials and nothing scheduled (an unretained entry)
};

std::string_view EntryStateName(EntryState state);

// `last_error_retryable` is empty when the entry has no last error.
EntryState EntryStateOf(bool servable, bool busy, int failures,
                        std::optional<bool> last_error_retryable);

// Why a fetch was made (the `reason` label of podiam_credential_fetches_total).
enum class FetchReason { kPrefetch, kMiss, kRefresh, kRetry };

std::string_view FetchReasonName(FetchReason reason);

// The reason of a background fetch: a retry after failures, else a refresh of held credentials,
// else a prefetch.
FetchReason BackgroundFetchReason(int failures, bool has_credentials);

// What a finished AssumeRole call means.
struct FetchVerdict {
  std::optional<Error> error;  // empty: the credentials may be served
  std::string result_label;    // "ok", "too_short", or aws::StsResultLabel / the error code name
  bool too_short = false;      // the error is the "expires too soon" refusal (retryable)
};

// An error stays that error; credentials without an expiration are kUpstreamInvalid; credentials
// with less than `min_remaining` left at `now` are a retryable kUnavailable that names the cause.
FetchVerdict ClassifyFetch(const Result<aws::AssumeRoleResult>& result, Clock::WallTime now,
                           std::chrono::seconds min_remaining);

// When to refresh credentials expiring at `expiration`: refresh_before (plus up to
// jitter_fraction of it, drawn from `random`) before expiry, and never after the last servable
// moment (expiration - min_remaining). Credentials too short-lived for that are refreshed
// halfway through what is left of their servable time.
Clock::WallTime RefreshAt(Clock::WallTime expiration, Clock::WallTime now,
                          const BrokerOptions& options, Random& random);

// Full-jitter backoff after the `failures`-th consecutive failure:
// uniform in [0, min(backoff_max, backoff_initial * 2^(failures-1))).
std::chrono::nanoseconds Backoff(int failures, const BrokerOptions& options, Random& random);

// After a failed call at `now`: no foreground call before blocked_until, no background retry
// before retry_at. A retryable error blocks both for `backoff`; a non-retryable one is
// negative-cached for negative_ttl, while background retries wait max(negative_ttl, backoff).
struct FailureSchedule {
  Clock::SteadyTime blocked_until;
  Clock::SteadyTime retry_at;
};
FailureSchedule ScheduleAfterFailure(const Error& error, std::chrono::nanoseconds backoff,
                                     Clock::SteadyTime now, const BrokerOptions& options);

}  // namespace podiam::creds
