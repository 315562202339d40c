// Metrics of the HTTP server, declared once. The composition root builds one HttpServerMetrics per
// Registry and hands a pointer to every HttpServer; each server resolves its own series through
// its `server` label ("imds", "ops", ...). Registering the families once matters: two servers
// registering the same names would render duplicate metric families.
//
// Thread-safety: construction registers with the Registry (thread-safe); the series are atomics.
//
//   metrics::Registry registry;
//   transport::HttpServerMetrics http_metrics(registry);
//   transport::HttpServer imds({.port = 8181, .name = "imds", .metrics = &http_metrics}, handler);
//   transport::HttpServer ops({.port = 9100, .name = "ops", .metrics = &http_metrics},
//   ops_handler);
#pragma once

#include <array>
#include <string_view>

#include "podiam/metrics/registry.hpp"

namespace podiam::transport {

// Why a request could not be parsed; the `kind` label of podiam_http_server_parse_errors_total.
enum class ParseErrorKind {
  kMalformed,       // bad request line, header syntax, chunk framing -> 400
  kFraming,         // Content-Length with Transfer-Encoding, conflicting lengths -> 400
  kHeaderTooLarge,  // request head above max_header_bytes -> 431
  kBodyTooLarge,    // body above max_body_bytes -> 413
};
inline constexpr std::size_t kParseErrorKinds = 4;
std::string_view ParseErrorKindName(ParseErrorKind kind);

// Which deadline cut a connection off; the `phase` label of podiam_http_server_timeouts_total.
enum class TimeoutPhase { kHeader, kBody, kWrite, kIdle };
inline constexpr std::size_t kTimeoutPhases = 4;
std::string_view TimeoutPhaseName(TimeoutPhase phase);

// The metric families (no series yet).
struct HttpServerMetrics {
  explicit HttpServerMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Counter>& connections_accepted;    // {server}
  metrics::Family<metrics::Counter>& connections_rejected;    // {server}
  metrics::Family<metrics::Gauge>& connections_open;          // {server}
  metrics::Family<metrics::Counter>& requests;                // {server, code}: "2xx", "4xx", ...
  metrics::Family<metrics::Histogram>& request_duration;      // {server}
  metrics::Family<metrics::Counter>& parse_errors;            // {server, kind}
  metrics::Family<metrics::Counter>& timeouts;                // {server, phase}
  metrics::Family<metrics::Counter>& tls_handshake_failures;  // {server}
};

// One server's series, resolved once so the hot path only touches atomics.
struct HttpServerSeries {
  HttpServerSeries(HttpServerMetrics& families, std::string_view server);

  metrics::Counter& connections_accepted;
  metrics::Counter& connections_rejected;
  metrics::Gauge& connections_open;
  std::array<metrics::Counter*, 6> requests_by_class{};  // index status/100; 0 = anything else
  metrics::Histogram& request_duration;
  std::array<metrics::Counter*, kParseErrorKinds> parse_errors{};
  std::array<metrics::Counter*, kTimeoutPhases> timeouts{};
  metrics::Counter& tls_handshake_failures;

  void CountRequest(int status) {
    int cls = status / 100;
    requests_by_class[cls >= 1 && cls <= 5 ? static_cast<std::size_t>(cls) : 0]->Inc();
  }
  void CountParseError(ParseErrorKind kind) { parse_errors[static_cast<std::size_t>(kind)]->Inc(); }
  void CountTimeout(TimeoutPhase phase) { timeouts[static_cast<std::size_t>(phase)]->Inc(); }
};

}  // namespace podiam::transport
