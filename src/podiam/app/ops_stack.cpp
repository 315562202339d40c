#include "podiam/app/ops_stack.hpp"

#include "podiam/metrics/process.hpp"

namespace podiam::app {
namespace {

metrics::Registry& WithProcessMetrics(metrics::Registry& registry) {
  metrics::RegisterProcessMetrics(registry);
  return registry;
}

}  // namespace

OpsStack::OpsStack() : http_metrics_(WithProcessMetrics(registry_)) {}

OpsStack::OpsStack(http::HostPort listen) : OpsStack() {
  listen_ = std::move(listen);
  server_.emplace(transport::HttpServerOptions{.address = listen_.host,
                                               .port = listen_.port,
                                               .threads = 1,
                                               .name = "ops",
                                               .metrics = &http_metrics_},
                  MakeHandler());
}

std::shared_ptr<http::Handler> OpsStack::MakeHandler() const {
  return ops::MakeOpsHandler(registry_, readiness_);
}

Result<void> OpsStack::Start() { return server_ ? server_->Start() : Result<void>{}; }

void OpsStack::Stop(std::chrono::milliseconds grace) {
  if (server_) {
    server_->Stop(grace);
  }
}

std::uint16_t OpsStack::port() const { return server_ ? server_->port() : 0; }

}  // namespace podiam::app
