// The k8s library's metrics, declared once (docs/metrics.md lists them). The composition root
// builds one K8sMetrics from its Registry and hands it to HttpKubeApi, informers, the
// EventRecorder and the LeaderElector.
//
// Labels are bounded: `verb` is get|list|watch|create|update|patch|apply|delete|deletecollection;
// `resource` is a resource's plural (podiam uses a fixed set); `code` is the HTTP status or, for
// transport failures, an ErrorCode name ("unavailable", "deadline_exceeded"); `lease` is the
// configured lease name. No object names or IPs.
//
// Thread-safety: as metrics::Registry (safe from any thread).
//
//   metrics::Registry registry;
//   k8s::K8sMetrics k8s_metrics(registry);
//   k8s::HttpKubeApi api(http, config, k8s_metrics);
#pragma once

#include "podiam/metrics/registry.hpp"

namespace podiam::k8s {

struct K8sMetrics {
  explicit K8sMetrics(metrics::Registry& registry);

  // podiam_k8s_requests_total{verb,resource,code}
  metrics::Family<metrics::Counter>& requests;
  // podiam_k8s_request_duration_seconds{verb,resource} (watches: until the headers arrive)
  metrics::Family<metrics::Histogram>& request_duration;
  // podiam_k8s_watch_events_total{resource,type}: type ADDED|MODIFIED|DELETED|BOOKMARK
  metrics::Family<metrics::Counter>& watch_events;
  // podiam_k8s_watch_restarts_total{resource,reason}: reason closed|error|gone
  metrics::Family<metrics::Counter>& watch_restarts;
  // podiam_k8s_informer_relists_total{resource,reason}: lists after the first; reason gone
  metrics::Family<metrics::Counter>& relists;
  // podiam_k8s_informer_list_failures_total{resource}
  metrics::Family<metrics::Counter>& list_failures;
  // podiam_k8s_informer_objects{resource}
  metrics::Family<metrics::Gauge>& informer_objects;
  // podiam_k8s_informer_store_bytes{resource}: approximate memory of the cached views
  metrics::Family<metrics::Gauge>& informer_bytes;
  // podiam_k8s_informer_synced{resource}: 1 once the first list is in
  metrics::Family<metrics::Gauge>& informer_synced;
  // podiam_k8s_events_sent_total{operation}: create|patch
  metrics::Family<metrics::Counter>& events_sent;
  // podiam_k8s_events_dropped_total{reason}: rate_limited|queue_full|error
  metrics::Family<metrics::Counter>& events_dropped;
  // podiam_k8s_events_aggregated_total: repeats folded into an existing Event's series
  metrics::Counter& events_aggregated;
  // podiam_k8s_leader{lease}: 1 while this process holds the lease
  metrics::Family<metrics::Gauge>& leader;
  // podiam_k8s_leader_transitions_total{lease,transition}: started|stopped
  metrics::Family<metrics::Counter>& leader_transitions;
};

}  // namespace podiam::k8s
