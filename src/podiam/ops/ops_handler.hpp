// The operations endpoints every podiam component serves on its ops listener:
//   GET /metrics  Prometheus text format of the Registry
//   GET /healthz  200 "ok" while the process can serve at all (liveness)
//   GET /readyz   200 when every readiness check passes, else 503 listing the failing checks
// Pure handlers: the composition root puts them behind a transport::HttpServer.
//
// Thread-safety: add checks before serving; Handle() is safe from any thread. Checks are called
// on every /readyz request, so they must be cheap (read an atomic, not call an upstream).
//
//   ops::Readiness readiness;
//   readiness.Add("informers-synced", [&] { return synced.load() ? ops::Check::Ok() :
//                                                   ops::Check::Fail("pods not listed yet"); });
//   auto handler = ops::MakeOpsHandler(registry, readiness);
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "podiam/http/handler.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::ops {

struct Check {
  bool ok = true;
  std::string reason;
  static Check Ok() { return {true, {}}; }
  static Check Fail(std::string reason) { return {false, std::move(reason)}; }
};

class Readiness {
 public:
  void Add(std::string name, std::function<Check()> check);
  // Runs every check; `failing` lists "name: reason" for each one that fails.
  [[nodiscard]] bool Ready(std::vector<std::string>* failing = nullptr) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::function<Check()>>> checks_;
};

// /metrics, /healthz and /readyz (and the same with a trailing slash). `readiness` and
// `registry` must outlive the handler.
std::shared_ptr<http::Handler> MakeOpsHandler(const metrics::Registry& registry,
                                              const Readiness& readiness);

}  // namespace podiam::ops
