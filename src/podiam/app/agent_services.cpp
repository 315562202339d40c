#include "podiam/app/agent_services.hpp"

#include "podiam/k8s/resource.hpp"

namespace podiam::app {

NodeCallers::NodeCallers(KubeStack& kube, const identity::PolicyOptions& policy,
                         creds::CredentialBroker& broker, agent::AddressFilter& addresses,
                         const Clock& clock, metrics::Registry& registry, const std::string& node,
                         const cli::AgentConfig& c)
    : policy_(policy),
      pods_(
          {.annotation_keys = {policy.keys.role, policy.keys.external_id, policy.keys.session_name},
           .duplicate_ips = c.node.duplicate_ips == "refuse"
                                ? k8s::DuplicateIpPolicy::kRefuse
                                : k8s::DuplicateIpPolicy::kPreferNewest}),
      namespaces_({.annotation_keys = {policy.keys.allowed_roles, policy.keys.permitted}}),
      accounts_({.annotation_keys = {policy.keys.role}}),
      events_(kube.api(), clock, kube.metrics(), {.reporting_instance = "podiam-agent-" + node}),
      directory_(
          pods_, namespaces_, accounts_, policy_, broker,
          // Direct lookups run inside a pod's request: well under the SDKs' 1 s timeout.
          kube.ApiWith({.request_timeout = std::chrono::milliseconds(500)}), &events_, clock,
          registry,
          {.node = node,
           .session = {.scope = c.sessions.session_scope,
                       .tags = c.sessions.session_tags,
                       .cluster_name = c.sessions.cluster_name,
                       .source_identity = c.sessions.source_identity},
           .duration_seconds = static_cast<int>(c.sessions.session_duration.count()),
           .synced = [&kube] { return kube.HasSynced(); },
           .is_node_address =
               [&addresses](std::string_view ip) { return addresses.IsNodeAddress(ip); },
           .may_be_pod = [&addresses](std::string_view ip) { return addresses.MayBePod(ip); }}) {
  kube.Watch(pods_,
             {.resource = k8s::resources::Pods(), .field_selector = "spec.nodeName=" + node});
  kube.Watch(namespaces_, {.resource = k8s::resources::Namespaces()});
  kube.Watch(accounts_, {.resource = k8s::resources::ServiceAccounts()});
}

PodImds::PodImds(creds::CredentialBroker& broker, aws::InstanceMetadata& node_imds,
                 metrics::Registry& registry)
    : metrics_(registry), source_(broker), upstream_(node_imds) {}

Result<std::unique_ptr<PodImds>> PodImds::Create(metadata::CallerDirectory& directory,
                                                 creds::CredentialBroker& broker,
                                                 aws::InstanceMetadata& node_imds, Random& random,
                                                 const Clock& clock, metrics::Registry& registry,
                                                 const cli::ImdsFlags& flags) {
  std::unique_ptr<PodImds> imds(new PodImds(broker, node_imds, registry));
  auto issuer = metadata::ImdsTokenIssuer::Create(random, clock);
  if (!issuer) {
    return tl::unexpected(issuer.error().Wrap("imds tokens"));
  }
  imds->issuer_ = std::move(*issuer);
  WorkQueue& workers = imds->workers_;
  auto handler = metadata::ImdsHandler::Create(
      directory, imds->source_, *imds->issuer_, clock, imds->metrics_,
      {.imdsv1 = flags.imdsv1,
       .allow_path = flags.allow_metadata_path,
       .default_allow_list = flags.metadata_allow_list == "default",
       .offload =
           [&workers](std::string_view source_ip, std::function<void()> work) {
             return workers.TryPost(source_ip, std::move(work));
           }},
      &imds->upstream_);
  if (!handler) {
    return tl::unexpected(handler.error());
  }
  imds->handler_ = std::move(*handler);
  return imds;
}

}  // namespace podiam::app
