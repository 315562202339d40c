// The server source's metrics (docs/metrics.md lists them). Labels are bounded: `result` is one
// of the kResult* values below; never URLs, pods or roles.
//
// Thread-safety: as metrics::Registry.
#pragma once

#include <string_view>

#include "podiam/metrics/registry.hpp"

namespace podiam::serverclient {

inline constexpr std::string_view kResultOk = "ok";
inline constexpr std::string_view kResultRefused = "refused";            // 400/401/403/404 answers
inline constexpr std::string_view kResultConflict = "conflict";          // 409, or roleArn differs
inline constexpr std::string_view kResultServerError = "server_error";   // 429/5xx
inline constexpr std::string_view kResultTransport = "transport_error";  // no HTTP answer
inline constexpr std::string_view kResultInvalid = "invalid_response";   // unparsable answer

struct SourceMetrics {
  explicit SourceMetrics(metrics::Registry& registry);

  // podiam_server_client_requests_total{result}: requests to a podiam server, one per URL tried.
  metrics::Family<metrics::Counter>& requests;
  // podiam_server_client_failovers_total: a request moved on to the next URL.
  metrics::Counter& failovers;
  // podiam_server_client_endpoints_backing_off: server URLs skipped until their backoff ends.
  metrics::Gauge& backing_off;
};

}  // namespace podiam::serverclient
