#include "podiam/metadata/metrics.hpp"

namespace podiam::metadata {

ImdsMetrics::ImdsMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_imds_requests_total",
                                   "Metadata requests from pods by route class and HTTP status.",
                                   {"route", "code"})),
      duration(registry.AddHistogram("podiam_imds_request_duration_seconds",
                                     "Time to answer a metadata request, by route class.",
                                     {"route"})),
      tokens_issued(registry
                        .AddCounter("podiam_imds_tokens_issued_total",
                                    "IMDSv2 session tokens issued to pods.")
                        .Get()),
      rejections(registry.AddCounter("podiam_imds_rejections_total",
                                     "Metadata requests refused, by reason.", {"reason"})) {}

}  // namespace podiam::metadata
