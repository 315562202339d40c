// Access to the Kubernetes API, shared by every subcommand that reads or writes cluster objects:
// the cluster configuration (--kubeconfig, $KUBECONFIG, in-cluster), one HTTPS client for it,
// the KubeApi, and the informers the subcommand registers, started and stopped together.
//
// Thread-safety: Watch/Start/Stop from the controlling thread; HasSynced and the APIs from any
// thread.
//
//   auto kube = app::KubeStack::Connect(config.kube, clock, random, registry, "podiam-agent");
//   (*kube)->Watch(pods, {.resource = k8s::resources::Pods(), .field_selector = ...});
//   ops.readiness().Add("informers-synced", ...(*kube)->HasSynced()...);
//   (*kube)->Start();  ...  (*kube)->Stop();
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "podiam/base/clock.hpp"
#include "podiam/base/error.hpp"
#include "podiam/base/random.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/http/client.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/cluster_config.hpp"
#include "podiam/k8s/http_kube_api.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/k8s/metrics.hpp"
#include "podiam/metrics/registry.hpp"

namespace podiam::app {

class KubeStack {
 public:
  // Loads the cluster configuration and builds the HTTPS client (CA, client certificate).
  // `user_agent` names the subcommand in the apiserver's audit log.
  static Result<std::unique_ptr<KubeStack>> Connect(const cli::KubeFlags& flags, const Clock& clock,
                                                    Random& random, metrics::Registry& registry,
                                                    const std::string& user_agent);

  // Over a given client (tests: testing::FakeHttpClient).
  KubeStack(k8s::ClusterConfig cluster, std::unique_ptr<http::HttpClient> http, const Clock& clock,
            Random& random, metrics::Registry& registry);
  ~KubeStack();
  KubeStack(const KubeStack&) = delete;
  KubeStack& operator=(const KubeStack&) = delete;

  k8s::KubeApi& api() { return api_; }
  // Another API client with its own options (e.g. a short timeout for lookups made while a
  // caller waits); lives as long as the stack.
  k8s::KubeApi& ApiWith(k8s::HttpKubeApiOptions options);
  k8s::K8sMetrics& metrics() { return metrics_; }
  [[nodiscard]] const k8s::ClusterConfig& cluster() const { return cluster_; }

  // An informer filling `sink`; call before Start().
  void Watch(k8s::InformerSink& sink, k8s::InformerOptions options);
  // Every informer has listed once.
  [[nodiscard]] bool HasSynced() const;
  void Start();
  void Stop();

 private:
  k8s::ClusterConfig cluster_;
  std::unique_ptr<http::HttpClient> http_;
  const Clock& clock_;
  Random& random_;
  k8s::K8sMetrics metrics_;
  k8s::HttpKubeApi api_;
  std::vector<std::unique_ptr<k8s::HttpKubeApi>> other_apis_;
  std::vector<std::unique_ptr<k8s::Informer>> informers_;
};

}  // namespace podiam::app
