#include "podiam/containercreds/metrics.hpp"

namespace podiam::containercreds {

ContainerMetrics::ContainerMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_container_credentials_requests_total",
                                   "Container-credentials requests from pods, by HTTP status.",
                                   {"code"})),
      duration(registry
                   .AddHistogram("podiam_container_credentials_request_duration_seconds",
                                 "Time to answer a container-credentials request.", {})
                   .Get()),
      refusals(registry.AddCounter("podiam_container_credentials_refusals_total",
                                   "Container-credentials requests refused, by reason.",
                                   {"reason"})),
      token_reviews(registry.AddCounter("podiam_container_credentials_token_reviews_total",
                                        "TokenReview calls made to the apiserver, by result.",
                                        {"result"})),
      review_cache(registry.AddCounter("podiam_container_credentials_review_cache_total",
                                       "TokenReview cache look-ups, by result.", {"result"})),
      review_invalidations(
          registry
              .AddCounter("podiam_container_credentials_review_invalidations_total",
                          "Cached TokenReviews dropped because their pod was deleted or replaced.")
              .Get()),
      requests_ok(requests.WithLabels({"200"})),
      review_hits(review_cache.WithLabels({"hit"})),
      review_negative_hits(review_cache.WithLabels({"negative_hit"})),
      review_misses(review_cache.WithLabels({"miss"})) {}

}  // namespace podiam::containercreds
