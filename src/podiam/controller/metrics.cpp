#include "podiam/controller/metrics.hpp"

namespace podiam::controller {

ControllerMetrics::ControllerMetrics(metrics::Registry& registry)
    : reconciles(registry.AddCounter("podiam_controller_reconciles_total",
                                     "AWSIAMRole reconciles by result.", {"result"})),
      secret_writes(registry.AddCounter("podiam_controller_secret_writes_total",
                                        "Secret writes by operation (create, update, adopt, "
                                        "delete) and failed writes (error).",
                                        {"op"})),
      queue_depth(registry
                      .AddGauge("podiam_controller_queue_depth",
                                "AWSIAMRoles waiting in the work queue (ready or delayed).")
                      .Get()),
      remaining(registry
                    .AddHistogram("podiam_controller_credentials_remaining_seconds",
                                  "Remaining lifetime of the credentials a reconcile found for "
                                  "an AWSIAMRole.",
                                  {}, {300, 900, 1800, 2700, 3600, 7200, 14400, 43200})
                    .Get()) {}

}  // namespace podiam::controller
