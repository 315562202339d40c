// Publisher: what `podiam oidc serve` serves. It keeps the rendered discovery document and JWKS
// of the current key files and answers GET/HEAD for them with caching headers; /healthz and
// /metrics go to the ops handler; everything else is 404.
//
// Key reload: Reload() re-reads every key file (through the injected reader) and re-renders when
// any content changed; the composition root calls it on a short poll (docs/oidc.md), so a
// replaced key file is served within a second. A reload that fails (file missing mid-rename, bad
// PEM) keeps serving the last good documents and is counted and returned as an error.
//
// Thread-safety: Reload() from one thread; the handler from any number of threads.
//
//   oidc::Publisher pub({.issuer = *issuer, .key_files = {"sa.pub"}}, ReadFile, metrics);
//   if (auto ok = pub.Reload(); !ok) { ... }     // first load: fail start-up
//   server(..., pub.MakeHandler(ops::MakeOpsHandler(registry, readiness)));
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "podiam/base/error.hpp"
#include "podiam/http/handler.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/oidc/discovery.hpp"

namespace podiam::oidc {

using FileReader = std::function<Result<std::string>(const std::string& path)>;

struct PublisherMetrics {
  explicit PublisherMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& requests;  // labels: route (discovery, jwks, other), code
  metrics::Family<metrics::Counter>& reloads;   // labels: result (changed, failed)
  metrics::Gauge& keys;                         // keys in the served JWKS
};

struct PublisherOptions {
  Issuer issuer;
  std::vector<std::string> key_files;
  RenderOptions render;
  std::chrono::seconds max_age{300};  // Cache-Control: public, max-age=N
};

class Publisher {
 public:
  Publisher(PublisherOptions options, FileReader read_file, PublisherMetrics& metrics);

  // true when the documents changed, false when the files are as before.
  Result<bool> Reload();

  // The serialized documents now served.
  [[nodiscard]] std::string Discovery() const;
  [[nodiscard]] std::string Jwks() const;

  // `ops` answers /healthz, /readyz and /metrics.
  std::shared_ptr<http::Handler> MakeHandler(std::shared_ptr<http::Handler> ops);

  [[nodiscard]] std::string DiscoveryPath() const;
  [[nodiscard]] std::string JwksPath() const;

 private:
  http::Response Serve(const http::Request& request) const;

  PublisherOptions options_;
  FileReader read_file_;
  PublisherMetrics& metrics_;
  std::string jwks_path_;
  std::string last_input_;  // concatenated key file contents of the last good render
  mutable std::mutex mu_;
  std::string discovery_;
  std::string jwks_;
};

}  // namespace podiam::oidc
