#include "podiam/server/metrics.hpp"

namespace podiam::server {

ServerMetrics::ServerMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_server_requests_total",
                                   "Agents' credential requests to the server, by HTTP status.",
                                   {"code"})),
      duration(registry
                   .AddHistogram("podiam_server_request_duration_seconds",
                                 "Time to answer an agent's credential request.", {})
                   .Get()),
      refusals(registry.AddCounter("podiam_server_refusals_total",
                                   "Agents' credential requests refused, by reason.", {"reason"})),
      token_reviews(registry.AddCounter("podiam_server_token_reviews_total",
                                        "TokenReviews of agents' tokens, by result.", {"result"})),
      review_cache(registry.AddCounter("podiam_server_review_cache_total",
                                       "Agent TokenReview cache look-ups, by result.",
                                       {"result"})) {}

}  // namespace podiam::server
