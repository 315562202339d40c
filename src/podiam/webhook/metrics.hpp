// Metrics of `podiam webhook`'s admission handler (declared once; see docs/metrics.md).
//
// Thread-safety: the referenced series are thread-safe.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::webhook {

struct WebhookMetrics {
  explicit WebhookMetrics(metrics::Registry& registry);

  // mode: none, web_identity, container_credentials.
  // result: mutated, unchanged (already mutated), skipped (no role for the pod, or not a pod
  // CREATE), denied (ServiceAccount unreadable), invalid (undecodable review or pod).
  metrics::Family<metrics::Counter>& admissions;  // labels: mode, result
  metrics::Family<metrics::Histogram>& duration;  // labels: result; handling time per review
  // outcome: found, not_found, error: what the direct read said when the cache missed.
  metrics::Family<metrics::Counter>& cache_misses;  // labels: outcome
};

}  // namespace podiam::webhook
