// Metrics of the server's agent-facing handler (declared once; see docs/metrics.md).
//
// Thread-safety: the referenced series are thread-safe.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::server {

struct ServerMetrics {
  explicit ServerMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Counter>& requests;  // labels: code
  metrics::Histogram& duration;
  // reason: path, method, no_token, malformed_token, expired_token, unauthenticated,
  // review_unavailable, not_an_agent, no_node_binding, bad_request, not_ready, pod_not_found,
  // lookup_unavailable, pod_not_on_node, no_credentials, role_denied, no_role, pending,
  // role_mismatch, credentials_denied, credentials_unavailable, busy.
  metrics::Family<metrics::Counter>& refusals;  // labels: reason
  // result: authenticated, unauthenticated, error.
  metrics::Family<metrics::Counter>& token_reviews;  // labels: result
  // result: hit, negative_hit, miss.
  metrics::Family<metrics::Counter>& review_cache;  // labels: result
};

}  // namespace podiam::server
