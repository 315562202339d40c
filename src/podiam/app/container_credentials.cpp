#include "podiam/app/container_credentials.hpp"

#include <fmt/format.h>

#include <atomic>
#include <optional>
#include <vector>

#include "podiam/agent/association_status.hpp"
#include "podiam/agent/container_sources.hpp"
#include "podiam/containercreds/handler.hpp"
#include "podiam/hostnet/link.hpp"
#include "podiam/k8s/informer.hpp"
#include "podiam/transport/http_server.hpp"

namespace podiam::app {
namespace {

struct Listen {
  std::string text;
  std::string host;
  std::uint16_t port = 0;
};

Result<Listen> ParseListen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("--container-credentials-listen must be ADDRESS:PORT, got '{}'", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  for (char ch : text.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || port > 65535) {
      port = -1;
      break;
    }
    port = port * 10 + (ch - '0');
  }
  if (port <= 0 || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("--container-credentials-listen: bad port in '{}'", text));
  }
  return Listen{std::string(text), std::string(host), static_cast<std::uint16_t>(port)};
}

class Endpoint final : public ContainerCredentialsEndpoint {
 public:
  explicit Endpoint(const ContainerCredentialsDeps& d)
      : d_(d),
        c_(d.config.container_credentials),
        up_(d.registry
                .AddGauge("podiam_container_credentials_up",
                          "1 while the container-credentials endpoint listens on at least one "
                          "address, else 0.")
                .Get()),
        informer_(d.kube, associations_, d.k8s_metrics, d.clock, d.random,
                  {.resource = agent::PodIdentityAssociations()}),
        reviews_(d.lookup, c_.token_audiences),
        pod_resolver_(
            d.pods,
            [this] { return d_.synced() && (crd_missing_.load() || informer_.HasSynced()); }),
        roles_(associations_, d.pods, d.namespaces, d.accounts, d.policy, d.broker,
               {.cluster_name = d.config.sessions.cluster_name,
                .cluster_arn = c_.cluster_arn,
                .from_annotations = c_.from_annotations,
                .duration_seconds = static_cast<int>(d.config.sessions.session_duration.count())}),
        status_(d.kube, associations_, d.namespaces, d.policy, d.clock),
        credentials_(d.broker),
        metrics_(d.registry) {
    std::vector<std::string> hosts;
    for (const auto& text : c_.listen) {
      if (auto l = ParseListen(text)) {
        hosts.push_back(l->host);
      }
    }
    handler_ = std::make_shared<containercreds::ContainerCredentialsHandler>(
        reviews_, pod_resolver_, roles_, credentials_, d.clock, metrics_,
        containercreds::HandlerOptions{
            .node_name = d.node,
            .hosts = hosts,
            .allow_host_network = c_.host_network,
            .is_node_address = d.is_node_address,
            .pod_qps = c_.pod_qps,
            .pod_burst = 2 * c_.pod_qps,
            .review_cache = {.key = d.random.SecureBytes(16)},
            .offload =
                [&workers = d.workers](std::string_view source, std::function<void()> work) {
                  return workers.TryPost(source, std::move(work));
                },
            .on_refusal =
                [events = d.events](const containercreds::PodInfo& pod, std::string_view reason,
                                    std::string_view message) {
                  if (events != nullptr) {
                    events->Record({.kind = "Pod",
                                    .namespace_name = pod.namespace_name,
                                    .name = pod.name,
                                    .uid = pod.uid},
                                   k8s::EventType::kWarning, "ContainerCredentialsRefused",
                                   "GetCredentials", fmt::format("{}: {}", reason, message));
                  }
                }});
    roles_.SetOnPodGone([this](const std::string& uid) { handler_->ForgetPod(uid); });
  }

  void Start() override {
    // The addresses first: a listener cannot bind an address the node does not have.
    if (c_.link != "none") {
      hostnet::LinkAddresses link(runner_, {.link = c_.link, .addresses = Hosts()});
      auto placed = link.Ensure();
      if (!placed) {
        log_.Error("container-credentials endpoint OFF: " + placed.error().message());
        return;
      }
      for (const auto& w : placed->warnings) {
        log_.Warn(w);
      }
      log_.Info("container-credentials addresses in place",
                {{"link", placed->link},
                 {"addresses", fmt::format("{}", fmt::join(placed->addresses, ","))}});
    }
    // Without the CRD there are no associations: ServiceAccount annotations only.
    auto probe = d_.kube.List(agent::PodIdentityAssociations(), "", {.limit = 1});
    if (!probe && probe.error().code() == ErrorCode::kNotFound) {
      crd_missing_ = true;
      log_.Warn(
          "the PodIdentityAssociation CRD (deploy/crds/podidentityassociations.podiam.io.yaml) is "
          "not installed: container credentials come from ServiceAccount annotations only");
    } else {
      informer_.Start();
      informer_started_ = true;
      status_.Start();
    }
    for (const auto& text : c_.listen) {
      auto l = ParseListen(text);
      if (!l) {
        log_.Error(l.error().message());
        continue;
      }
      auto& server = servers_.emplace_back(std::make_unique<transport::HttpServer>(
          transport::HttpServerOptions{.address = l->host,
                                       .port = l->port,
                                       .threads = 1,
                                       .max_connections_per_client = static_cast<std::size_t>(
                                           d_.config.listener.max_connections_per_pod),
                                       .name = "container-credentials",
                                       .metrics = &d_.http_metrics},
          handler_));
      if (auto ok = server->Start(); !ok) {
        log_.Error("cannot listen for container credentials",
                   {{"listen", text}, {"error", ok.error().ToString()}});
        servers_.pop_back();
        continue;
      }
      log_.Info("container-credentials endpoint listening", {{"listen", text}});
    }
    up_.Set(servers_.empty() ? 0 : 1);
  }

  void Stop() override {
    for (auto& server : servers_) {
      server->Stop(std::chrono::seconds(2));
    }
    servers_.clear();
    if (informer_started_) {
      status_.Stop();
      informer_.Stop();
    }
    up_.Set(0);
  }

 private:
  std::vector<std::string> Hosts() const {
    std::vector<std::string> out;
    for (const auto& text : c_.listen) {
      auto l = ParseListen(text);
      if (l && l->host != "0.0.0.0" && l->host != "::") {
        out.push_back(l->host);
      }
    }
    return out;
  }

  ContainerCredentialsDeps d_;
  const cli::ContainerCredentialsConfig& c_;
  log::Logger log_{"container-credentials"};
  metrics::Gauge& up_;
  agent::AssociationCache associations_;
  k8s::Informer informer_;
  bool informer_started_ = false;
  std::atomic<bool> crd_missing_{false};
  agent::KubeTokenAuthenticator reviews_;
  agent::PodCacheResolver pod_resolver_;
  agent::AssociationRoles roles_;
  agent::AssociationStatusWriter status_;
  agent::BrokerCredentials credentials_;
  containercreds::ContainerMetrics metrics_;
  std::shared_ptr<containercreds::ContainerCredentialsHandler> handler_;
  hostnet::SubprocessRunner runner_;
  std::vector<std::unique_ptr<transport::HttpServer>> servers_;
};

}  // namespace

std::unique_ptr<ContainerCredentialsEndpoint> MakeContainerCredentials(
    const ContainerCredentialsDeps& deps) {
  if (!deps.config.container_credentials.enabled) {
    return nullptr;
  }
  return std::make_unique<Endpoint>(deps);
}

std::unique_ptr<ContainerCredentialsEndpoint> MakeContainerCredentials(
    const cli::AgentConfig& config, const std::string& node, KubeStack& kube, NodeCallers& callers,
    PodImds& imds, creds::CredentialBroker& broker, const Clock& clock, Random& random,
    OpsStack& ops) {
  class Off final : public ContainerCredentialsEndpoint {
    void Start() override {}
    void Stop() override {}
  };
  auto endpoint = MakeContainerCredentials(ContainerCredentialsDeps{
      .config = config,
      .node = node,
      .kube = kube.api(),
      // TokenReviews run inside a pod's request: well under the SDKs' timeouts.
      .lookup = kube.ApiWith({.request_timeout = std::chrono::milliseconds(500)}),
      .k8s_metrics = kube.metrics(),
      .pods = callers.pods(),
      .namespaces = callers.namespaces(),
      .accounts = callers.accounts(),
      .policy = callers.policy(),
      .broker = broker,
      .events = &callers.events(),
      .clock = clock,
      .random = random,
      .registry = ops.registry(),
      .http_metrics = ops.http_metrics(),
      .workers = imds.workers(),
      .synced = [&kube] { return kube.HasSynced(); },
      .is_node_address =
          [&callers](std::string_view ip) { return callers.directory().IsNodeAddress(ip); }});
  if (!endpoint) {
    return std::make_unique<Off>();
  }
  return endpoint;
}

}  // namespace podiam::app
