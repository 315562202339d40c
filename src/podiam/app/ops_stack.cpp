#include "podiam/app/ops_stack.hpp"

#include "podiam/metrics/process.hpp"

namespace podiam::app {
namespace {

metrics::Registry& WithProcessMetrics(metrics::Registry& registry) {
  metrics::RegisterProcessMetrics(registry);
  return registry;
}

}  // namespace

OpsStack::OpsStack(http::HostPort listen)
    : listen_(std::move(listen)),
      http_metrics_(WithProcessMetrics(registry_)),
      server_({.address = listen_.host,
               .port = listen_.port,
               .threads = 1,
               .name = "ops",
               .metrics = &http_metrics_},
              ops::MakeOpsHandler(registry_, readiness_)) {}

}  // namespace podiam::app
