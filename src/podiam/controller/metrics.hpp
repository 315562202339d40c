// The controller's metrics (docs/metrics.md): reconciles by result, Secret writes by operation,
// the work queue's depth, and the remaining lifetime of the credentials written into Secrets.
//
// Thread-safety: as metrics::Registry.
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::controller {

struct ControllerMetrics {
  explicit ControllerMetrics(metrics::Registry& registry);

  // podiam_controller_reconciles_total{result}: ok, refresh_failing, invalid, denied, pending,
  // sts_error, secret_conflict, kube_error, deleted.
  metrics::Family<metrics::Counter>& reconciles;
  // podiam_controller_secret_writes_total{op}: create, update, adopt, delete, error.
  metrics::Family<metrics::Counter>& secret_writes;
  // podiam_controller_queue_depth: keys waiting (ready or delayed).
  metrics::Gauge& queue_depth;
  // podiam_controller_credentials_remaining_seconds: remaining lifetime of the credentials a
  // reconcile found for a role (written or already in its Secret).
  metrics::Histogram& remaining;
};

}  // namespace podiam::controller
