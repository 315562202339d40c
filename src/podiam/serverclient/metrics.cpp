#include "podiam/serverclient/metrics.hpp"

namespace podiam::serverclient {

SourceMetrics::SourceMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("podiam_server_client_requests_total",
                                   "Credential requests to a podiam server, one per URL tried, "
                                   "by result.",
                                   {"result"})),
      failovers(registry
                    .AddCounter("podiam_server_client_failovers_total",
                                "Credential requests that moved on to the next podiam server URL.")
                    .Get()),
      backing_off(registry
                      .AddGauge("podiam_server_client_endpoints_backing_off",
                                "podiam server URLs skipped until their backoff ends.")
                      .Get()) {}

}  // namespace podiam::serverclient
