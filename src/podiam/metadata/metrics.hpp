// Metrics of the pod-facing metadata handlers (declared once; see docs/metrics.md).
//
// Thread-safety: the referenced series are thread-safe.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::metadata {

struct ImdsMetrics {
  explicit ImdsMetrics(metrics::Registry& registry);

  // route: token, role_list, credentials, credentials_extended, iam_info, iam, passthrough, other.
  metrics::Family<metrics::Counter>& requests;    // labels: route, code
  metrics::Family<metrics::Histogram>& duration;  // labels: route
  metrics::Counter& tokens_issued;
  // reason: ImdsErrorReason() of each refusal (imds_errors.hpp).
  metrics::Family<metrics::Counter>& rejections;  // labels: reason
};

}  // namespace podiam::metadata
