// Metrics of the container-credentials handler (declared once; see docs/metrics.md).
//
// Thread-safety: the referenced series are thread-safe.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::containercreds {

struct ContainerMetrics {
  explicit ContainerMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Counter>& requests;  // labels: code
  metrics::Histogram& duration;
  // reason: host, method, path, no_token, malformed_token, expired_token, rate_limited,
  // not_ready, review_unavailable, unauthenticated, not_pod_bound, other_node, unknown_pod,
  // pod_replaced, pod_finished, source_ip, host_network, no_role, denied, invalid_role, pending,
  // credentials_unavailable, busy.
  metrics::Family<metrics::Counter>& refusals;  // labels: reason
  // result: authenticated, unauthenticated, error.
  metrics::Family<metrics::Counter>& token_reviews;  // labels: result
  // result: hit, negative_hit, miss.
  metrics::Family<metrics::Counter>& review_cache;  // labels: result
  metrics::Counter& review_invalidations;

  // Series of the families above that every cached request touches, looked up once.
  metrics::Counter& requests_ok;           // requests{code="200"}
  metrics::Counter& review_hits;           // review_cache{result="hit"}
  metrics::Counter& review_negative_hits;  // review_cache{result="negative_hit"}
  metrics::Counter& review_misses;         // review_cache{result="miss"}
};

}  // namespace podiam::containercreds
