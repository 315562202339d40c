#include "podiam/creds/refresh_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "podiam/aws/metrics.hpp"

namespace podiam::creds {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

BrokerOptions SanitizeBrokerOptions(BrokerOptions options) {
  options.max_concurrent_sts = std::max(options.max_concurrent_sts, 1);
  options.jitter_fraction = std::clamp(options.jitter_fraction, 0.0, 1.0);
  options.backoff_initial = std::max(options.backoff_initial, milliseconds(1));
  options.backoff_max = std::max(options.backoff_max, options.backoff_initial);
  options.negative_ttl = std::max(options.negative_ttl, milliseconds(0));
  options.release_grace = std::max(options.release_grace, milliseconds(0));
  options.refresh_before = std::max(options.refresh_before, seconds(0));
  options.min_remaining = std::max(options.min_remaining, seconds(0));
  return options;
}

std::string_view EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kFetching:
      return "fetching";
    case EntryState::kValid:
      return "valid";
    case EntryState::kRefreshing:
      return "refreshing";
    case EntryState::kRetrying:
      return "retrying";
    case EntryState::kBackoff:
      return "backoff";
    case EntryState::kFailed:
      return "failed";
    case EntryState::kEmpty:
      return "empty";
  }
  return "unknown";
}

EntryState EntryStateOf(bool servable, bool busy, int failures,
                        std::optional<bool> last_error_retryable) {
  if (servable) {
    return busy           ? EntryState::kRefreshing
           : failures > 0 ? EntryState::kRetrying
                          : EntryState::kValid;
  }
  if (busy) {
    return EntryState::kFetching;
  }
  if (last_error_retryable) {
    return *last_error_retryable ? EntryState::kBackoff : EntryState::kFailed;
  }
  return EntryState::kEmpty;
}

std::string_view FetchReasonName(FetchReason reason) {
  switch (reason) {
    case FetchReason::kPrefetch:
      return "prefetch";
    case FetchReason::kMiss:
      return "miss";
    case FetchReason::kRefresh:
      return "refresh";
    case FetchReason::kRetry:
      return "retry";
  }
  return "unknown";
}

FetchReason BackgroundFetchReason(int failures, bool has_credentials) {
  return failures > 0      ? FetchReason::kRetry
         : has_credentials ? FetchReason::kRefresh
                           : FetchReason::kPrefetch;
}

FetchVerdict ClassifyFetch(const Result<aws::AssumeRoleResult>& result, Clock::WallTime now,
                           seconds min_remaining) {
  FetchVerdict verdict{.result_label = "ok"};
  if (!result) {
    verdict.error = result.error();
    verdict.result_label = aws::StsResultLabel(*verdict.error);
  } else if (!result->credentials.expiration) {
    verdict.error =
        Error(ErrorCode::kUpstreamInvalid, "STS returned credentials without an expiration");
    verdict.result_label = ErrorCodeName(ErrorCode::kUpstreamInvalid);
  } else if (*result->credentials.expiration - now < min_remaining) {
    // Serving them would break SDK refresh logic (docs/protocols.md#sdk-expiry-rules). Usually
    // the role's maximum session duration is below what we ask for, or this node's clock runs
    // ahead.
    verdict.too_short = true;
    verdict.error =
        Error(ErrorCode::kUnavailable,
              fmt::format("STS returned credentials that expire in {} s, under the {} s "
                          "minimum podiam serves; check the role's maximum session duration "
                          "and the node's clock",
                          duration_cast<seconds>(*result->credentials.expiration - now).count(),
                          min_remaining.count()),
              "", /*retryable=*/true);
    verdict.result_label = "too_short";
  }
  return verdict;
}

Clock::WallTime RefreshAt(Clock::WallTime expiration, Clock::WallTime now,
                          const BrokerOptions& options, Random& random) {
  const auto jitter = duration_cast<Clock::WallTime::duration>(
      std::chrono::duration<double>(options.refresh_before) * options.jitter_fraction *
      random.Uniform01());
  // The last moment the credentials may be served; a refresh must start before it.
  const Clock::WallTime latest = expiration - options.min_remaining;
  Clock::WallTime at = std::min(expiration - options.refresh_before - jitter, latest);
  if (at <= now) {
    // Credentials shorter-lived than refresh_before (see the broker constructor's warning):
    // refresh halfway through what is left of their servable time rather than at once, in a loop.
    at = now + (latest - now) / 2;
  }
  return at;
}

nanoseconds Backoff(int failures, const BrokerOptions& options, Random& random) {
  const double initial = std::chrono::duration<double>(options.backoff_initial).count();
  const double max = std::chrono::duration<double>(options.backoff_max).count();
  const double cap = std::min(max, initial * std::exp2(std::min(failures - 1, 62)));
  return duration_cast<nanoseconds>(std::chrono::duration<double>(cap * random.Uniform01()));
}

FailureSchedule ScheduleAfterFailure(const Error& error, nanoseconds backoff, Clock::SteadyTime now,
                                     const BrokerOptions& options) {
  if (error.retryable()) {
    return {.blocked_until = now + backoff, .retry_at = now + backoff};
  }
  // Negative caching: Get()s see this error for negative_ttl without a call, so a pod polling in
  // a loop cannot drive STS. Background retries of a retained entry keep backing off.
  return {.blocked_until = now + options.negative_ttl,
          .retry_at = now + std::max<nanoseconds>(options.negative_ttl, backoff)};
}

}  // namespace podiam::creds
