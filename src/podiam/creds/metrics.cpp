#include "podiam/creds/metrics.hpp"

namespace podiam::creds {

BrokerMetrics::BrokerMetrics(metrics::Registry& registry)
    : lookups(registry.AddCounter("podiam_creds_lookups_total",
                                  "Credential cache lookups by API (cached: non-blocking, get: "
                                  "blocking) and result (hit or miss).",
                                  {"api", "result"})),
      hits_cached(lookups.WithLabels({"cached", "hit"})),
      misses_cached(lookups.WithLabels({"cached", "miss"})),
      hits_get(lookups.WithLabels({"get", "hit"})),
      misses_get(lookups.WithLabels({"get", "miss"})),
      fetches(registry.AddCounter("podiam_creds_sts_fetches_total",
                                  "AssumeRole calls made by the credential broker, by reason "
                                  "(prefetch, miss, refresh, retry) and result (ok, too_short, "
                                  "or the STS error).",
                                  {"reason", "result"})),
      refresh_failures(registry
                           .AddCounter("podiam_creds_refresh_failures_total",
                                       "Failed fetches for entries that kept serving their "
                                       "still-valid credentials.")
                           .Get()),
      get_errors(registry.AddCounter("podiam_creds_get_errors_total",
                                     "Errors returned to blocking credential requests, by reason.",
                                     {"reason"})),
      dropped(registry
                  .AddCounter("podiam_creds_entries_dropped_total",
                              "Cache entries dropped after their last user and the grace period.")
                  .Get()),
      entries(registry.AddGauge("podiam_creds_entries", "Credential cache entries.").Get()),
      in_flight(registry
                    .AddGauge("podiam_creds_sts_in_flight",
                              "AssumeRole calls the credential broker has in flight.")
                    .Get()),
      queued(registry
                 .AddGauge("podiam_creds_sts_queued",
                           "AssumeRole calls waiting for a free credential broker worker.")
                 .Get()),
      min_remaining(registry
                        .AddGauge("podiam_creds_min_remaining_seconds",
                                  "Shortest remaining lifetime of any servable cached "
                                  "credentials (0 when none).")
                        .Get()) {}

}  // namespace podiam::creds
