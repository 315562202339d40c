// The operations side every long-running subcommand has: the metrics registry (with the process
// metrics), named readiness checks, and the listener serving /metrics, /healthz and /readyz
// (--metrics-listen, cli::OpsFlags).
//
// Thread-safety: registry() and readiness() are safe from any thread; Start/Stop from the
// controlling thread.
//
//   app::OpsStack ops(*http::ParseHostPort(config.ops.metrics_listen));
//   SomeLibraryMetrics m(ops.registry());
//   ops.readiness().Add("informers-synced", [&] { ... });
//   if (auto ok = ops.Start(); !ok) { ... }
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "podiam/base/error.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/ops/ops_handler.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::app {

class OpsStack {
 public:
  explicit OpsStack(http::HostPort listen);

  metrics::Registry& registry() { return registry_; }
  ops::Readiness& readiness() { return readiness_; }
  // For every HTTP server of the subcommand (labelled by server name).
  transport::HttpServerMetrics& http_metrics() { return http_metrics_; }

  Result<void> Start() { return server_.Start(); }
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(1)) { server_.Stop(grace); }
  // The bound port (0 before Start()).
  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  [[nodiscard]] const http::HostPort& listen() const { return listen_; }

 private:
  http::HostPort listen_;
  metrics::Registry registry_;
  ops::Readiness readiness_;
  transport::HttpServerMetrics http_metrics_;
  transport::HttpServer server_;
};

}  // namespace podiam::app
