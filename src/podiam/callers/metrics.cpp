#include "podiam/callers/metrics.hpp"

namespace podiam::callers {

CallerMetrics::CallerMetrics(metrics::Registry& registry)
    : decisions(registry.AddCounter(
          "podiam_agent_role_decisions_total",
          "Role decisions made for pods on this node (once per pod, namespace or service "
          "account change), by outcome.",
          {"outcome"})),
      pods_tracked(registry
                       .AddGauge("podiam_agent_pods_tracked",
                                 "Pods on this node that own an IP and are tracked by the agent.")
                       .Get()),
      direct_lookups(registry.AddCounter(
          "podiam_agent_direct_lookups_total",
          "Apiserver lookups for callers not yet seen through the watch, by result.", {"result"})),
      unknown_callers(registry.AddCounter(
          "podiam_agent_unknown_callers_total",
          "Metadata requests from addresses no pod on this node owns, by how they were answered: "
          "node_address and outside_pod_cidr at once, not_found after the wait, overloaded when "
          "too many were already waiting.",
          {"reason"})),
      waiting(registry
                  .AddGauge("podiam_agent_waiting_requests",
                            "Metadata requests parked until their caller's pod is known.")
                  .Get()) {}

}  // namespace podiam::callers
