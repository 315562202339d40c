// The creds library's metrics, declared once (docs/metrics.md lists them). The composition root
// builds one BrokerMetrics from its Registry per CredentialBroker.
//
// Labels are bounded by construction: `api` is cached|get, `result` of a lookup is hit|miss,
// `reason` of a fetch is prefetch|miss|refresh|retry, `result` of a fetch is ok, too_short or
// aws::StsResultLabel() (a known STS code, "other", or an ErrorCode name), and `reason` of an
// error returned by Get is one of the kGetError* values below. Never pod names, IPs, roles or
// session names.
//
// Thread-safety: as metrics::Registry (safe from any thread).
//
//   metrics::Registry registry;
//   creds::BrokerMetrics m(registry);
//   m.hits_cached.Inc();
#pragma once

#include <string_view>

#include "podiam/metrics/registry.hpp"

namespace podiam::creds {

// Values of podiam_creds_get_errors_total{reason}.
inline constexpr std::string_view kGetErrorFetchFailed = "fetch_failed";  // the awaited call failed
inline constexpr std::string_view kGetErrorTooShort = "too_short";  // STS gave < min_remaining
inline constexpr std::string_view kGetErrorBackoff = "backoff";     // retryable error, backing off
inline constexpr std::string_view kGetErrorNegative = "negative";   // non-retryable, cached
inline constexpr std::string_view kGetErrorDeadline = "deadline";   // deadline passed first
inline constexpr std::string_view kGetErrorStopped = "stopped";     // broker stopped

struct BrokerMetrics {
  explicit BrokerMetrics(metrics::Registry& registry);

  // podiam_creds_lookups_total{api,result}. The hot-path series are resolved once here so that
  // Cached() pays one atomic add, not a label lookup.
  metrics::Family<metrics::Counter>& lookups;
  metrics::Counter& hits_cached;
  metrics::Counter& misses_cached;
  metrics::Counter& hits_get;
  metrics::Counter& misses_get;
  // podiam_creds_sts_fetches_total{reason,result}: AssumeRole calls made by the broker.
  metrics::Family<metrics::Counter>& fetches;
  // podiam_creds_refresh_failures_total: failed fetches for an entry that still had servable
  // credentials (which it keeps serving).
  metrics::Counter& refresh_failures;
  // podiam_creds_get_errors_total{reason}: errors Get() returned.
  metrics::Family<metrics::Counter>& get_errors;
  // podiam_creds_entries_dropped_total: entries removed after their last Release (or last Get
  // for unretained ones) and the grace period.
  metrics::Counter& dropped;
  // podiam_creds_entries: cache entries (servable or not).
  metrics::Gauge& entries;
  // podiam_creds_sts_in_flight / podiam_creds_sts_queued: AssumeRole calls running / waiting
  // for one of the max_concurrent_sts workers.
  metrics::Gauge& in_flight;
  metrics::Gauge& queued;
  // podiam_creds_min_remaining_seconds: the shortest remaining lifetime of any servable cached
  // credentials, updated by Tick(); alert when it nears min_remaining (refreshes are failing).
  metrics::Gauge& min_remaining;
};

}  // namespace podiam::creds
