#include "podiam/ops/ops_handler.hpp"

#include "podiam/http/router.hpp"

namespace podiam::ops {

void Readiness::Add(std::string name, std::function<Check()> check) {
  std::lock_guard lock(mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

bool Readiness::Ready(std::vector<std::string>* failing) const {
  std::lock_guard lock(mu_);
  bool ready = true;
  for (const auto& [name, check] : checks_) {
    Check result = check();
    if (!result.ok) {
      ready = false;
      if (failing != nullptr) {
        failing->push_back(name + ": " + result.reason);
      }
    }
  }
  return ready;
}

std::shared_ptr<http::Handler> MakeOpsHandler(const metrics::Registry& registry,
                                              const Readiness& readiness) {
  auto router = std::make_shared<http::Router>();
  auto metrics = http::MakeSyncHandler([&registry](const http::Request&) {
    http::Response r;
    r.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = registry.Render();
    return r;
  });
  auto healthz =
      http::MakeSyncHandler([](const http::Request&) { return http::Response::Text(200, "ok\n"); });
  auto readyz = http::MakeSyncHandler([&readiness](const http::Request&) {
    std::vector<std::string> failing;
    if (readiness.Ready(&failing)) {
      return http::Response::Text(200, "ok\n");
    }
    std::string body = "not ready\n";
    for (const auto& f : failing) {
      body += "- " + f + "\n";
    }
    return http::Response::Text(503, std::move(body));
  });
  for (const char* suffix : {"", "/"}) {
    router->Get(std::string("/metrics") + suffix, metrics);
    router->Get(std::string("/healthz") + suffix, healthz);
    router->Get(std::string("/readyz") + suffix, readyz);
  }
  return router;
}

}  // namespace podiam::ops
