#include "podiam/webhook/metrics.hpp"

namespace podiam::webhook {

WebhookMetrics::WebhookMetrics(metrics::Registry& registry)
    : admissions(registry.AddCounter("podiam_webhook_admissions_total",
                                     "Admission reviews answered, by injection mode and result.",
                                     {"mode", "result"})),
      duration(registry.AddHistogram("podiam_webhook_admission_duration_seconds",
                                     "Time to answer one admission review, by result.",
                                     {"result"})),
      cache_misses(registry.AddCounter(
          "podiam_webhook_serviceaccount_cache_misses_total",
          "ServiceAccounts not in the informer cache at admission, by what the direct read said.",
          {"outcome"})) {}

}  // namespace podiam::webhook
