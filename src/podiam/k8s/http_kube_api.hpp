// HttpKubeApi: the KubeApi adapter over http::HttpClient. It builds the REST paths and query
// strings, adds `Authorization: Bearer <token>` from the config's TokenSource on every request
// (the token is never logged), decodes watch streams incrementally (watch_decoder.hpp) and maps
// the apiserver's Status answers to Errors (kube_api.hpp).
//
// No retries here: callers know what is worth repeating (the informer re-watches and re-lists,
// the leader elector retries every retryPeriod, events are dropped). Errors carry `retryable`.
//
// Thread-safety: safe for concurrent calls (no mutable state besides metrics; the TokenSource
// locks).
//
//   auto config = k8s::LoadClusterConfig({}, clock);
//   auto http = transport::BeastHttpClient::Create({.ca_file = config->ca_file});
//   k8s::HttpKubeApi api(**http, *config, k8s_metrics, clock);
//   auto ns = api.Get(k8s::resources::Namespaces(), "", "kube-system");
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/base/clock.hpp"
#include "podiam/base/log.hpp"
#include "podiam/http/client.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"

namespace podiam::k8s {

struct HttpKubeApiOptions {
  std::chrono::milliseconds request_timeout{30000};
  // A watch read that waits longer than this fails with kDeadlineExceeded (the informer then
  // re-watches): a dead connection is noticed. Above the apiserver's one-minute bookmark period
  // so idle watches survive. (Stopping a watch does not wait for it: WatchOptions::stop.)
  std::chrono::milliseconds watch_idle_timeout{90000};
  std::string user_agent = "podiam";
};

class HttpKubeApi final : public KubeApi {
 public:
  // `server` is ClusterConfig::server; a null `token` sends no Authorization header.
  HttpKubeApi(http::HttpClient& http, std::string server, std::shared_ptr<TokenSource> token,
              K8sMetrics& metrics, const Clock& clock, HttpKubeApiOptions options = {});
  HttpKubeApi(http::HttpClient& http, const ClusterConfig& config, K8sMetrics& metrics,
              const Clock& clock, HttpKubeApiOptions options = {})
      : HttpKubeApi(http, config.server, config.token, metrics, clock, std::move(options)) {}

  Result<Json> Get(const Resource& resource, std::string_view namespace_name, std::string_view name,
                   std::string_view subresource = {}) override;
  Result<ObjectList> List(const Resource& resource, std::string_view namespace_name,
                          const ListOptions& options) override;
  Result<void> Watch(const Resource& resource, std::string_view namespace_name,
                     const WatchOptions& options, const WatchHandler& handler) override;
  Result<Json> Create(const Resource& resource, std::string_view namespace_name,
                      const Json& object) override;
  Result<Json> CreateSubresource(const Resource& resource, std::string_view namespace_name,
                                 std::string_view name, std::string_view subresource,
                                 const Json& body) override;
  Result<Json> Update(const Resource& resource, std::string_view namespace_name, const Json& object,
                      std::string_view subresource = {}) override;
  Result<Json> MergePatch(const Resource& resource, std::string_view namespace_name,
                          std::string_view name, const Json& patch,
                          std::string_view subresource = {}) override;
  Result<Json> Apply(const Resource& resource, std::string_view namespace_name,
                     std::string_view name, const Json& object, const ApplyOptions& options,
                     std::string_view subresource = {}) override;
  Result<void> Delete(const Resource& resource, std::string_view namespace_name,
                      std::string_view name, const DeleteOptions& options = {}) override;
  Result<void> DeleteCollection(const Resource& resource, std::string_view namespace_name,
                                const ListOptions& selector,
                                const DeleteOptions& options = {}) override;

 private:
  struct Call {
    std::string_view verb;  // metric label
    const Resource* resource = nullptr;
    std::string method;
    std::string target;  // path and query
    std::string body;
    std::string content_type;
  };
  Result<http::ClientRequest> Prepare(const Call& call, std::chrono::milliseconds timeout);
  // Sends and maps any non-2xx status to an Error; returns the 2xx response.
  Result<http::Response> Do(const Call& call);
  Result<Json> DoJson(const Call& call);
  void Count(const Call& call, std::string_view code, double seconds);

  http::HttpClient& http_;
  std::string server_;
  std::shared_ptr<TokenSource> token_;
  K8sMetrics& metrics_;
  const Clock& clock_;
  HttpKubeApiOptions options_;
  log::Logger log_{"k8s.api"};
};

// The namespace to write into: the argument, else the object's metadata.namespace.
std::string ObjectNamespace(const Resource& resource, std::string_view namespace_name,
                            const Json& object);

}  // namespace podiam::k8s
