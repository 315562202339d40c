#include "podiam/app/server.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "podiam/agent/container_sources.hpp"
#include "podiam/app/aws_stack.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/node_metadata.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/app/role_policy.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/base/work_queue.hpp"
#include "podiam/callers/pod_directory.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/membership/membership.hpp"
#include "podiam/server/handler.hpp"
#include "podiam/server/peer_handler.hpp"
#include "podiam/server/peer_protocol.hpp"
#include "podiam/server/pod_source.hpp"
#include "podiam/server/shard.hpp"
#include "podiam/server/sharded_source.hpp"
#include "podiam/serverclient/ports.hpp"
#include "podiam/transport/http_client.hpp"
#include "podiam/transport/http_server.hpp"

namespace podiam::app {
namespace {

// Every pod, namespace and ServiceAccount, the Event recorder, and the directory deciding each
// pod's role (the agent's NodeCallers, for all nodes: no node selector, no address filter).
class ClusterCallers {
 public:
  ClusterCallers(KubeStack& kube, const identity::PolicyOptions& policy,
                 creds::CredentialBroker& broker, const Clock& clock, metrics::Registry& registry,
                 const cli::ServerConfig& c, callers::Prefetch::Hook prefetch)
      : policy_(policy),
        pods_({.annotation_keys = {policy.keys.role, policy.keys.external_id,
                                   policy.keys.session_name}}),
        namespaces_({.annotation_keys = {policy.keys.allowed_roles, policy.keys.permitted}}),
        accounts_({.annotation_keys = {policy.keys.role}}),
        events_(kube.api(), clock, kube.metrics(), {.reporting_instance = "podiam-server"}),
        directory_(pods_, namespaces_, accounts_, policy_, broker,
                   // Direct reads run inside an agent's request.
                   kube.ApiWith({.request_timeout = std::chrono::seconds(2)}), &events_, clock,
                   registry,
                   {.node = "",
                    .session = {.scope = c.sessions.session_scope,
                                .tags = c.sessions.session_tags,
                                .cluster_name = c.sessions.cluster_name,
                                .source_identity = c.sessions.source_identity},
                    .duration_seconds = static_cast<int>(c.sessions.session_duration.count()),
                    .synced = [&kube] { return kube.HasSynced(); },
                    .keep_role_less = false,
                    .prefetch = std::move(prefetch)}) {
    kube.Watch(pods_, {.resource = k8s::resources::Pods()});
    kube.Watch(namespaces_, {.resource = k8s::resources::Namespaces()});
    kube.Watch(accounts_, {.resource = k8s::resources::ServiceAccounts()});
  }

  callers::PodDirectory& directory() { return directory_; }
  k8s::EventRecorder& events() { return events_; }

 private:
  identity::RolePolicy policy_;
  k8s::PodCache pods_;
  k8s::NamespaceCache namespaces_;
  k8s::ServiceAccountCache accounts_;
  k8s::EventRecorder events_;
  callers::PodDirectory directory_;
};

// /healthz, /readyz and /metrics (the ops stack, unauthenticated), everything else to the agents'
// handler.
class Routes final : public http::Handler {
 public:
  Routes(std::shared_ptr<http::Handler> ops, server::CredentialsHandler& agents)
      : ops_(std::move(ops)), agents_(agents) {}
  void Handle(http::Request request, http::ResponseCallback done) override {
    auto path = request.Path();
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
      return ops_->Handle(std::move(request), std::move(done));
    }
    if (peers_ != nullptr && path == server::kPeerCredentialsPath) {
      return peers_->Handle(std::move(request), std::move(done));
    }
    agents_.Handle(std::move(request), std::move(done));
  }
  // Set before the listener starts.
  void set_peers(http::Handler* peers) { peers_ = peers; }

 private:
  std::shared_ptr<http::Handler> ops_;
  server::CredentialsHandler& agents_;
  http::Handler* peers_ = nullptr;
};

std::vector<std::string> Usernames(const std::vector<std::string>& accounts) {
  std::vector<std::string> out;
  out.reserve(accounts.size());
  for (const auto& account : accounts) {
    out.push_back("system:serviceaccount:" + account);  // NS:NAME, checked at parse time
  }
  return out;
}

// Sharding (docs/server.md, "High availability and sharding"): this replica's Lease and view of
// the group, who owns which key, the source that asks owners, and the owned-only prefetch.
class Sharding {
 public:
  // nullptr (logged): the identity or the peer URL is neither given nor in the environment, so
  // this replica runs unsharded (it prefetches every pod, as with --sharding=off).
  static Result<std::unique_ptr<Sharding>> Create(const cli::ServerConfig& c,
                                                  const aws::Environment& env, int listen_port,
                                                  KubeStack& kube, const Clock& clock,
                                                  Random& random, creds::CredentialSource& sts,
                                                  metrics::Registry& registry, log::Logger& log) {
    std::string identity =
        !c.identity.empty() ? c.identity
                            : aws::NonEmpty(env, "POD_NAME")
                                  .value_or(aws::NonEmpty(env, "HOSTNAME").value_or(std::string()));
    std::string peer_url = c.peer_url;
    if (peer_url.empty()) {
      if (auto ip = aws::NonEmpty(env, "POD_IP")) {
        peer_url = ip->find(':') != std::string::npos
                       ? fmt::format("https://[{}]:{}", *ip, listen_port)
                       : fmt::format("https://{}:{}", *ip, listen_port);
      }
    }
    if (identity.empty() || peer_url.empty()) {
      log.Warn(
          "sharding off: this replica's identity or peer URL is unknown (set --identity and "
          "--peer-url, or POD_NAME and POD_IP from the downward API); it prefetches every pod",
          {{"identity", identity}, {"peer_url", peer_url}});
      return std::unique_ptr<Sharding>();
    }
    membership::MembershipOptions options{
        .namespace_name = !c.membership_namespace.empty()
                              ? c.membership_namespace
                              : aws::NonEmpty(env, "POD_NAMESPACE").value_or("kube-system"),
        .prefix = c.membership_lease_prefix,
        .identity = identity,
        .peer_url = peer_url,
        .lease_duration = c.membership_lease_duration,
        .renew_period = c.membership_renew_period};
    if (auto ok = membership::Membership::Validate(options); !ok) {
      return tl::unexpected(ok.error().Wrap("--sharding=on"));
    }
    const bool mtls = !c.tls_client_ca.empty();
    auto http = transport::BeastHttpClient::Create(
        {.ca_file = !c.peer_ca.empty() ? c.peer_ca : c.tls_client_ca,
         // With --ca every connection needs a client certificate: peers present their own.
         .client_cert_file = mtls ? c.tls_cert : std::string(),
         .client_key_file = mtls ? c.tls_key : std::string(),
         .connect_timeout = std::chrono::seconds(1),
         .user_agent = "podiam-server-peer"});
    if (!http) {
      return tl::unexpected(http.error().Wrap("peer https client"));
    }
    return std::unique_ptr<Sharding>(
        new Sharding(std::move(options), std::move(*http), c, kube, clock, random, sts, registry));
  }

  creds::CredentialSource& source() { return source_; }
  server::KeyOwners& owners() { return owners_; }
  server::ShardMetrics& metrics() { return metrics_; }
  membership::Membership& members() { return membership_; }
  // Once the broker exists: the prefetch the directory uses, re-evaluated on every change.
  callers::Prefetch::Hook Prefetch(creds::CredentialBroker& broker) {
    prefetch_.emplace(broker, owners_, metrics_);
    return [this](const creds::CredentialSpec* before, const creds::CredentialSpec* after) {
      prefetch_->Change(before, after);
    };
  }

 private:
  Sharding(membership::MembershipOptions options, std::unique_ptr<http::HttpClient> http,
           const cli::ServerConfig& c, KubeStack& kube, const Clock& clock, Random& random,
           creds::CredentialSource& sts, metrics::Registry& registry)
      : http_(std::move(http)),
        token_(c.peer_token_file),
        metrics_(registry),
        owners_([this] { return membership_.Members(); }, options.identity),
        source_(sts, owners_, *http_, token_, metrics_,
                {.tls_server_name = c.peer_tls_server_name}),
        membership_(kube.api(), clock, random, kube.metrics(), WithOnChange(std::move(options))) {
    metrics_.members.Set(1);
  }
  membership::MembershipOptions WithOnChange(membership::MembershipOptions options) {
    options.on_change = [this] {
      metrics_.members.Set(static_cast<double>(membership_.Members()->size()));
      if (prefetch_) {
        prefetch_->Rebalance();
      }
    };
    return options;
  }

  std::unique_ptr<http::HttpClient> http_;
  serverclient::FileToken token_;
  server::ShardMetrics metrics_;
  server::MembershipOwners owners_;
  server::ShardedSource source_;
  std::optional<server::OwnedPrefetch> prefetch_;
  membership::Membership membership_;  // last: its threads call the members above
};

server::HandlerOptions HandlerOptionsFrom(const cli::ServerConfig& c, Random& random,
                                          WorkQueue& workers, k8s::EventRecorder& events) {
  return {.agent_usernames = Usernames(c.agent_service_accounts),
          .allow_unbound_agents = c.allow_unbound_agents,
          .review_cache = {.key = random.SecureBytes(16)},
          .offload =
              [&workers](std::string_view key, std::function<void()> work) {
                return workers.TryPost(key, std::move(work));
              },
          .on_refusal =
              [&events](const server::RefusalNotice& notice) {
                if (notice.pod) {
                  events.Record({.kind = "Pod",
                                 .namespace_name = notice.pod->namespace_name,
                                 .name = notice.pod->name,
                                 .uid = notice.pod->uid},
                                k8s::EventType::kWarning, "PodNotOnNode", "GetCredentials",
                                fmt::format("the agent of node {} asked for this pod's credentials "
                                            "and was refused: {}",
                                            notice.agent_node, notice.message));
                }
              }};
}

}  // namespace

int RunServer(const cli::GlobalConfig& /*global*/, const cli::ServerConfig& c) {
  log::Logger log("server");
  for (const auto& warning : c.compat_warnings) {  // kiam flags podiam does not honour
    log.Warn(warning);
  }
  auto fail = [&log](std::string_view what, const Error& error) {
    log.Error("cannot start the server",
              {{"step", std::string(what)}, {"error", error.ToString()}});
    return 1;
  };
  ShutdownSignals signals;  // before any thread starts
  log.Debug("file descriptor limit", {{"soft", std::to_string(RaiseFileLimit())}});

  auto listen = http::ParseHostPort(c.listen);
  if (!listen) {
    return fail("config", listen.error().Wrap("--listen"));
  }
  std::optional<OpsStack> ops_storage;
  if (!c.metrics_listen.empty()) {
    auto ops_listen = http::ParseHostPort(c.metrics_listen);
    if (!ops_listen) {
      return fail("config", ops_listen.error().Wrap("--metrics-listen"));
    }
    ops_storage.emplace(*ops_listen);
  } else {
    ops_storage.emplace();
  }
  OpsStack& ops = *ops_storage;
  const aws::Environment env = aws::ProcessEnvironment();
  SystemClock clock;
  SystemRandom random;
  auto aws_http = transport::BeastHttpClient::Create({});
  if (!aws_http) {
    return fail("aws http client", aws_http.error());
  }
  NodeMetadata node_imds = OpenNodeMetadata(**aws_http, clock, env);
  auto policy_options = PolicyOptionsFrom(c.roles, node_imds.ForOwnUse(), clock, log);
  if (!policy_options) {
    return fail("config", policy_options.error());
  }

  // ---- AWS: the server's own credentials, then the broker of every pod's credentials.
  auto aws = AwsStack::Create({.http = **aws_http,
                               .clock = clock,
                               .random = random,
                               .registry = ops.registry(),
                               .env = env,
                               .log_component = "server"},
                              c.aws, node_imds.ForOwnUse(), "podiam-server");
  if (!aws) {
    return fail("config", aws.error());
  }
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-server");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  creds::StsSource sts((*aws)->sts());
  std::unique_ptr<Sharding> sharding;
  if (c.sharding) {
    auto made =
        Sharding::Create(c, env, listen->port, **kube, clock, random, sts, ops.registry(), log);
    if (!made) {
      return fail("config", made.error());
    }
    sharding = std::move(*made);
  }
  creds::CredentialBroker broker(
      sharding ? sharding->source() : sts, clock, random, ops.registry(),
      {.refresh_before = c.sessions.refresh_before,
       .duration_seconds = static_cast<int>(c.sessions.session_duration.count())});

  // ---- Kubernetes: every pod, namespace and ServiceAccount; TokenReviews of agents' tokens.
  ClusterCallers callers(**kube, *policy_options, broker, clock, ops.registry(), c,
                         sharding ? sharding->Prefetch(broker) : callers::Prefetch::Hook());
  agent::KubeTokenAuthenticator reviews(
      (*kube)->ApiWith({.request_timeout = std::chrono::seconds(2)}), c.token_audiences);
  server::DirectoryPods pods(callers.directory());
  agent::BrokerCredentials credentials(broker);
  WorkQueue workers(WorkQueueOptions{.threads = 16, .max_queued = 4096, .max_per_key = 256});
  server::ServerMetrics metrics(ops.registry());
  server::CredentialsHandler handler(reviews, pods, credentials, clock, metrics,
                                     HandlerOptionsFrom(c, random, workers, callers.events()));
  std::optional<server::BrokerPeerCredentials> peer_credentials;
  std::optional<server::PeerHandler> peers;
  if (sharding) {
    peer_credentials.emplace(broker);
    peers.emplace(reviews, handler.review_cache(), sharding->owners(), *peer_credentials, clock,
                  sharding->metrics(),
                  server::PeerHandlerOptions{
                      .peer_usernames = Usernames(c.peer_service_accounts),
                      .offload = [&workers](std::string_view key, std::function<void()> work) {
                        return workers.TryPost(key, std::move(work));
                      }});
  }
  ops.readiness().Add("informers-synced", [&kube] {
    return (*kube)->HasSynced()
               ? ops::Check::Ok()
               : ops::Check::Fail("pods, namespaces or service accounts not listed yet");
  });
  ops.readiness().Add("aws-credentials", [&aws] { return (*aws)->CredentialsCheck(); });

  transport::HttpServer https({.address = listen->host,
                               .port = listen->port,
                               .threads = c.threads,
                               // Larger than the protocol's 4 KiB so that the handler, after
                               // authenticating, answers an oversized body 400 (docs/server.md).
                               .max_body_bytes = 4 * server::kMaxBodyBytes,
                               .name = "server",
                               .metrics = &ops.http_metrics(),
                               .tls_cert_file = c.tls_cert,
                               .tls_key_file = c.tls_key,
                               .tls_client_ca_file = c.tls_client_ca,
                               .tls_reload_interval = std::chrono::seconds(60)},
                              [&] {
                                auto routes = std::make_shared<Routes>(ops.MakeHandler(), handler);
                                routes->set_peers(peers ? &*peers : nullptr);
                                return routes;
                              }());
  if (auto ok = ops.Start(); !ok) {
    return fail("metrics listener " + c.metrics_listen, ok.error());
  }
  if (auto ok = https.Start(); !ok) {
    ops.Stop(std::chrono::milliseconds(0));
    return fail("listener " + c.listen, ok.error());
  }
  if (sharding) {
    // Before the informers: a replica that knows its peers does not prefetch their keys.
    sharding->members().Start();
    sharding->members().WaitForSync(std::chrono::seconds(5));
  }
  callers.events().Start();
  broker.Start();
  callers.directory().Start();
  (*kube)->Start();
  log.Info("server started",
           {{"listen", fmt::format("{}:{}", listen->host, https.port())},
            {"client_ca", !c.tls_client_ca.empty()},
            {"agents", fmt::format("{}", fmt::join(c.agent_service_accounts, ","))},
            {"allow_unbound_agents", c.allow_unbound_agents},
            {"sharding", sharding ? sharding->members().identity() : std::string("off")},
            {"sts", (*aws)->endpoint().url},
            {"kubernetes", (*kube)->cluster().origin}});
  (*aws)->Start();  // own credentials: retried until STS accepts them

  log.Info("shutting down", {{"signal", signals.Wait()}});
  if (sharding) {
    sharding->members().Stop();  // deletes our Lease: peers take our keys over at once
  }
  https.Stop(std::chrono::seconds(5));
  workers.Stop();
  (*kube)->Stop();
  (*aws)->Stop();
  callers.directory().Stop();
  broker.Stop();
  callers.events().Stop();
  ops.Stop(std::chrono::seconds(1));
  log.Info("server stopped");
  return 0;
}

}  // namespace podiam::app
