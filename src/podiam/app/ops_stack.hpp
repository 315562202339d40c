// The operations side every long-running subcommand has: the metrics registry (with the process
// metrics), named readiness checks, and the listener serving /metrics, /healthz and /readyz
// (--metrics-listen, cli::OpsFlags). A subcommand with one public server of its own (oidc serve)
// builds it without a listener and serves MakeHandler() behind its own routes.
//
// Thread-safety: registry() and readiness() are safe from any thread; Start/Stop from the
// controlling thread.
//
//   app::OpsStack ops(*http::ParseHostPort(config.ops.metrics_listen));
//   SomeLibraryMetrics m(ops.registry());
//   ops.readiness().Add("informers-synced", [&] { ... });
//   if (auto ok = ops.Start(); !ok) { ... }
//
//   app::OpsStack ops;                       // no listener of its own
//   transport::HttpServer server({...}, MyRoutes(ops.MakeHandler()));
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "podiam/base/error.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/ops/ops_handler.hpp"
#include "podiam/transport/http_server.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::app {

class OpsStack {
 public:
  // Serves /metrics, /healthz and /readyz on `listen` from Start().
  explicit OpsStack(http::HostPort listen);
  // No listener: the subcommand serves MakeHandler() itself; Start/Stop do nothing.
  OpsStack();

  metrics::Registry& registry() { return registry_; }
  ops::Readiness& readiness() { return readiness_; }
  // For every HTTP server of the subcommand (labelled by server name).
  transport::HttpServerMetrics& http_metrics() { return http_metrics_; }

  // /metrics /healthz /readyz over registry() and readiness() (what the listener serves).
  [[nodiscard]] std::shared_ptr<http::Handler> MakeHandler() const;

  Result<void> Start();
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(1));
  // The bound port (0 before Start() and without a listener).
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] const http::HostPort& listen() const { return listen_; }

 private:
  http::HostPort listen_;
  metrics::Registry registry_;
  ops::Readiness readiness_;
  transport::HttpServerMetrics http_metrics_;
  std::optional<transport::HttpServer> server_;
};

}  // namespace podiam::app
