#include "podiam/transport/metrics.hpp"

#include <string>

namespace podiam::transport {

std::string_view ParseErrorKindName(ParseErrorKind kind) {
  switch (kind) {
    case ParseErrorKind::kMalformed:
      return "malformed";
    case ParseErrorKind::kFraming:
      return "framing";
    case ParseErrorKind::kHeaderTooLarge:
      return "header_too_large";
    case ParseErrorKind::kBodyTooLarge:
      return "body_too_large";
  }
  return "unknown";
}

std::string_view TimeoutPhaseName(TimeoutPhase phase) {
  switch (phase) {
    case TimeoutPhase::kHeader:
      return "header";
    case TimeoutPhase::kBody:
      return "body";
    case TimeoutPhase::kWrite:
      return "write";
    case TimeoutPhase::kIdle:
      return "idle";
  }
  return "unknown";
}

HttpServerMetrics::HttpServerMetrics(metrics::Registry& registry)
    : connections_accepted(registry.AddCounter("podiam_http_server_connections_accepted_total",
                                               "TCP connections accepted by an HTTP server.",
                                               {"server"})),
      connections_rejected(registry.AddCounter(
          "podiam_http_server_connections_rejected_total",
          "Connections closed right after accept: max_connections or the per-client limit was "
          "reached.",
          {"server"})),
      connections_open(registry.AddGauge("podiam_http_server_connections_open",
                                         "Connections currently open on an HTTP server.",
                                         {"server"})),
      requests(registry.AddCounter("podiam_http_server_requests_total",
                                   "Responses sent, by status class (2xx, 4xx, ...).",
                                   {"server", "code"})),
      request_duration(registry.AddHistogram(
          "podiam_http_server_request_duration_seconds",
          "Time from a complete request to its response being written.", {"server"})),
      parse_errors(registry.AddCounter(
          "podiam_http_server_parse_errors_total",
          "Requests rejected before reaching a handler, by kind (malformed, framing, "
          "header_too_large, body_too_large).",
          {"server", "kind"})),
      timeouts(registry.AddCounter(
          "podiam_http_server_timeouts_total",
          "Connections closed by a deadline, by phase (header, body, write, idle).",
          {"server", "phase"})),
      tls_handshake_failures(registry.AddCounter(
          "podiam_http_server_tls_handshake_failures_total",
          "TLS handshakes that failed: no or an untrusted client certificate where one is "
          "required, plain HTTP to a TLS port, a client that does not trust the server.",
          {"server"})) {}

HttpServerSeries::HttpServerSeries(HttpServerMetrics& families, std::string_view server)
    : connections_accepted(families.connections_accepted.WithLabels({server})),
      connections_rejected(families.connections_rejected.WithLabels({server})),
      connections_open(families.connections_open.WithLabels({server})),
      request_duration(families.request_duration.WithLabels({server})),
      tls_handshake_failures(families.tls_handshake_failures.WithLabels({server})) {
  static constexpr std::array<std::string_view, 6> kClasses = {"other", "1xx", "2xx",
                                                               "3xx",   "4xx", "5xx"};
  for (std::size_t i = 0; i < kClasses.size(); ++i) {
    requests_by_class[i] = &families.requests.WithLabels({server, kClasses[i]});
  }
  for (std::size_t i = 0; i < kParseErrorKinds; ++i) {
    parse_errors[i] = &families.parse_errors.WithLabels(
        {server, ParseErrorKindName(static_cast<ParseErrorKind>(i))});
  }
  for (std::size_t i = 0; i < kTimeoutPhases; ++i) {
    timeouts[i] =
        &families.timeouts.WithLabels({server, TimeoutPhaseName(static_cast<TimeoutPhase>(i))});
  }
}

}  // namespace podiam::transport
