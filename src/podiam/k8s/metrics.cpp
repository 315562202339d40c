#include "podiam/k8s/metrics.hpp"

namespace podiam::k8s {

K8sMetrics::K8sMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_k8s_requests_total",
                                   "Kubernetes API requests by verb, resource and HTTP status "
                                   "(or error kind for transport failures).",
                                   {"verb", "resource", "code"})),
      request_duration(registry.AddHistogram(
          "podiam_k8s_request_duration_seconds",
          "Kubernetes API request latency (watches: until the response headers).",
          {"verb", "resource"})),
      watch_events(registry.AddCounter("podiam_k8s_watch_events_total",
                                       "Watch events received by informers.",
                                       {"resource", "type"})),
      watch_restarts(registry.AddCounter(
          "podiam_k8s_watch_restarts_total",
          "Informer watches that ended and were started again, by reason (closed, error, gone).",
          {"resource", "reason"})),
      relists(registry.AddCounter("podiam_k8s_informer_relists_total",
                                  "Informer lists after the first one, by reason (gone: the "
                                  "watch's resourceVersion had expired).",
                                  {"resource", "reason"})),
      list_failures(registry.AddCounter("podiam_k8s_informer_list_failures_total",
                                        "Informer list attempts that failed.", {"resource"})),
      informer_objects(registry.AddGauge("podiam_k8s_informer_objects",
                                         "Objects held by an informer's cache.", {"resource"})),
      informer_bytes(registry.AddGauge("podiam_k8s_informer_store_bytes",
                                       "Approximate memory of an informer's cache, indexes "
                                       "included.",
                                       {"resource"})),
      informer_synced(registry.AddGauge("podiam_k8s_informer_synced",
                                        "1 once an informer has completed its first list.",
                                        {"resource"})),
      events_sent(registry.AddCounter("podiam_k8s_events_sent_total",
                                      "Kubernetes Events written, by operation (create, patch).",
                                      {"operation"})),
      events_dropped(registry.AddCounter(
          "podiam_k8s_events_dropped_total",
          "Kubernetes Event writes not made, by reason (rate_limited, queue_full, error).",
          {"reason"})),
      events_aggregated(registry
                            .AddCounter("podiam_k8s_events_aggregated_total",
                                        "Event occurrences folded into an existing Event's "
                                        "series instead of a new Event.")
                            .Get()),
      leader(registry.AddGauge("podiam_k8s_leader", "1 while this process holds the lease.",
                               {"lease"})),
      leader_transitions(registry.AddCounter("podiam_k8s_leader_transitions_total",
                                             "Leadership changes of this process (started, "
                                             "stopped).",
                                             {"lease", "transition"})) {}

}  // namespace podiam::k8s
