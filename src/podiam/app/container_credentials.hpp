// The container-credentials endpoint of `podiam agent` (docs/container-credentials.md), composed
// over the agent's shared stack: its pod, namespace and ServiceAccount caches, role policy,
// credential broker, Event recorder and worker queue. It adds what only it needs: the
// PodIdentityAssociation informer, the TokenReview authenticator, the handler, the link-local
// addresses on the node, and one listener per --container-credentials-listen address.
//
// Construct it before the shared informers start (it registers cache handlers); Start() after.
// Nothing here is fatal to the agent: when the addresses cannot be placed or a listener cannot
// bind, it logs one error line saying what to do, sets podiam_container_credentials_up to 0, and
// the IMDS endpoint keeps serving.
//
// Thread-safety: Start() and Stop() from the agent's main thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "podiam/app/agent_services.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/base/work_queue.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/cache.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/kube_api.hpp"
#include "podiam/k8s/metrics.hpp"
#include "podiam/k8s/pod_cache.hpp"
#include "podiam/metrics/registry.hpp"
#include "podiam/transport/metrics.hpp"

namespace podiam::app {

struct ContainerCredentialsDeps {
  const cli::AgentConfig& config;
  std::string node;
  k8s::KubeApi& kube;    // informers, the CRD check
  k8s::KubeApi& lookup;  // TokenReviews (short timeout: they run inside a pod's request)
  k8s::K8sMetrics& k8s_metrics;
  k8s::PodCache& pods;
  k8s::NamespaceCache& namespaces;
  k8s::ServiceAccountCache& accounts;
  const identity::RolePolicy& policy;
  creds::CredentialBroker& broker;
  k8s::EventRecorder* events;
  const Clock& clock;
  Random& random;
  metrics::Registry& registry;
  transport::HttpServerMetrics& http_metrics;
  WorkQueue& workers;
  std::function<bool()> synced;                           // the shared informers have listed
  std::function<bool(std::string_view)> is_node_address;  // for hostNetwork pods' requests
};

class ContainerCredentialsEndpoint {
 public:
  virtual ~ContainerCredentialsEndpoint() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

// Null when --container-credentials=false.
std::unique_ptr<ContainerCredentialsEndpoint> MakeContainerCredentials(
    const ContainerCredentialsDeps& deps);

// The same, over the agent's stacks (app/agent.cpp); never null: a disabled endpoint does nothing.
std::unique_ptr<ContainerCredentialsEndpoint> MakeContainerCredentials(
    const cli::AgentConfig& config, const std::string& node, KubeStack& kube, NodeCallers& callers,
    PodImds& imds, creds::CredentialBroker& broker, const Clock& clock, Random& random,
    OpsStack& ops);

}  // namespace podiam::app
