// Metrics of the caller directory (declared once; see docs/metrics.md). The names keep their
// `podiam_agent_` prefix: dashboards and alerts already use them.
//
// Thread-safety: the referenced series are thread-safe.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::callers {

struct CallerMetrics {
  explicit CallerMetrics(metrics::Registry& registry);

  // outcome: allowed, no_role, denied, invalid (identity::OutcomeName).
  metrics::Family<metrics::Counter>& decisions;  // labels: outcome
  metrics::Gauge& pods_tracked;
  // result: found, not_found, error, rate_limited, skipped_recent_miss, queue_full.
  metrics::Family<metrics::Counter>& direct_lookups;  // labels: result
  // reason: node_address, outside_pod_cidr, not_found, overloaded.
  metrics::Family<metrics::Counter>& unknown_callers;  // labels: reason
  metrics::Gauge& waiting;
};

}  // namespace podiam::callers
