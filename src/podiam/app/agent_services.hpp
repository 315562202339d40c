// The agent's own services, built by RunAgent (app/agent.cpp) over the shared stacks:
//   - NodeCallers: this node's pods, all namespaces and ServiceAccounts (caches the KubeStack's
//     informers fill), the Events recorder and the directory that tells the metadata handler who
//     is at an address and which role they get;
//   - PodImds: the pod-facing IMDS handler and the pool its blocking work runs on.
//
// Thread-safety: construct, Start and Stop from the controlling thread.
#pragma once

#include <memory>
#include <string>

#include "podiam/agent/address_filter.hpp"
#include "podiam/agent/node_metadata_upstream.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/aws/imds_client.hpp"
#include "podiam/base/work_queue.hpp"
#include "podiam/callers/broker_source.hpp"
#include "podiam/callers/pod_directory.hpp"
#include "podiam/cli/config.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/metadata/metrics.hpp"

namespace podiam::app {

class NodeCallers {
 public:
  // Registers the informers on `kube`; `node` is this node's name.
  NodeCallers(KubeStack& kube, const identity::PolicyOptions& policy,
              creds::CredentialBroker& broker, agent::AddressFilter& addresses, const Clock& clock,
              metrics::Registry& registry, const std::string& node, const cli::AgentConfig& config);

  callers::PodDirectory& directory() { return directory_; }
  k8s::EventRecorder& events() { return events_; }
  k8s::PodCache& pods() { return pods_; }
  k8s::NamespaceCache& namespaces() { return namespaces_; }
  k8s::ServiceAccountCache& accounts() { return accounts_; }
  [[nodiscard]] const identity::RolePolicy& policy() const { return policy_; }

 private:
  identity::RolePolicy policy_;
  k8s::PodCache pods_;
  k8s::NamespaceCache namespaces_;
  k8s::ServiceAccountCache accounts_;
  k8s::EventRecorder events_;
  callers::PodDirectory directory_;
};

class PodImds {
 public:
  // Fails on an invalid --allow-metadata-path.
  static Result<std::unique_ptr<PodImds>> Create(metadata::CallerDirectory& directory,
                                                 creds::CredentialBroker& broker,
                                                 aws::InstanceMetadata& node_imds, Random& random,
                                                 const Clock& clock, metrics::Registry& registry,
                                                 const cli::ImdsFlags& flags);

  [[nodiscard]] const std::shared_ptr<http::Handler>& handler() const { return handler_; }
  // The blocking-work pool, shared with the container-credentials endpoint.
  WorkQueue& workers() { return workers_; }
  // Stops the blocking-work pool (after the listeners have stopped).
  void Stop() { workers_.Stop(); }

 private:
  PodImds(creds::CredentialBroker& broker, aws::InstanceMetadata& node_imds,
          metrics::Registry& registry);

  metadata::ImdsMetrics metrics_;
  callers::BrokerSource source_;
  agent::NodeMetadataUpstream upstream_;  // pods' requests for the allowed paths only
  // Blocking work (STS fetches, the node's metadata service) off the I/O threads: bounded, and
  // no source address may hold more than its share of it.
  WorkQueue workers_{WorkQueueOptions{.threads = 16, .max_queued = 1024, .max_per_key = 8}};
  std::unique_ptr<metadata::ImdsTokenIssuer> issuer_;
  std::shared_ptr<http::Handler> handler_;
};

}  // namespace podiam::app
