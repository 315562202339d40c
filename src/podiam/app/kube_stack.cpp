#include "podiam/app/kube_stack.hpp"

#include <algorithm>

#include "podiam/transport/http_client.hpp"

namespace podiam::app {

Result<std::unique_ptr<KubeStack>> KubeStack::Connect(const cli::KubeFlags& flags,
                                                      const Clock& clock, Random& random,
                                                      metrics::Registry& registry,
                                                      const std::string& user_agent) {
  auto cluster = k8s::LoadClusterConfig(
      {.kubeconfig = flags.kubeconfig, .allow_insecure = flags.insecure_skip_tls_verify}, clock);
  if (!cluster) {
    return tl::unexpected(cluster.error().Wrap("kubernetes config"));
  }
  auto http =
      transport::BeastHttpClient::Create({.ca_file = cluster->ca_file,
                                          .client_cert_file = cluster->client_cert_file,
                                          .client_key_file = cluster->client_key_file,
                                          .insecure_skip_verify = cluster->insecure_skip_tls_verify,
                                          .user_agent = user_agent});
  if (!http) {
    return tl::unexpected(http.error().Wrap("kubernetes http client"));
  }
  return std::make_unique<KubeStack>(std::move(*cluster), std::move(*http), clock, random,
                                     registry);
}

KubeStack::KubeStack(k8s::ClusterConfig cluster, std::unique_ptr<http::HttpClient> http,
                     const Clock& clock, Random& random, metrics::Registry& registry)
    : cluster_(std::move(cluster)),
      http_(std::move(http)),
      clock_(clock),
      random_(random),
      metrics_(registry),
      api_(*http_, cluster_, metrics_, clock_) {}

KubeStack::~KubeStack() { Stop(); }

k8s::KubeApi& KubeStack::ApiWith(k8s::HttpKubeApiOptions options) {
  other_apis_.push_back(
      std::make_unique<k8s::HttpKubeApi>(*http_, cluster_, metrics_, clock_, std::move(options)));
  return *other_apis_.back();
}

void KubeStack::Watch(k8s::InformerSink& sink, k8s::InformerOptions options) {
  informers_.push_back(
      std::make_unique<k8s::Informer>(api_, sink, metrics_, clock_, random_, std::move(options)));
}

bool KubeStack::HasSynced() const {
  return std::all_of(informers_.begin(), informers_.end(),
                     [](const auto& informer) { return informer->HasSynced(); });
}

void KubeStack::Start() {
  for (auto& informer : informers_) {
    informer->Start();
  }
}

void KubeStack::Stop() {
  for (auto& informer : informers_) {
    informer->Stop();
  }
}

}  // namespace podiam::app
