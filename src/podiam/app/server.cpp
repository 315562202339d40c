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
#include "podiam/server/handler.hpp"
#include "podiam/server/pod_source.hpp"
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
                 const cli::ServerConfig& c)
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
                    .synced = [&kube] { return kube.HasSynced(); }}) {
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
    agents_.Handle(std::move(request), std::move(done));
  }

 private:
  std::shared_ptr<http::Handler> ops_;
  server::CredentialsHandler& agents_;
};

server::HandlerOptions HandlerOptionsFrom(const cli::ServerConfig& c, Random& random,
                                          WorkQueue& workers, k8s::EventRecorder& events) {
  std::vector<std::string> agents;
  for (const auto& account : c.agent_service_accounts) {
    agents.push_back("system:serviceaccount:" + account);  // NS:NAME, checked at parse time
  }
  return {.agent_usernames = std::move(agents),
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
  creds::CredentialBroker broker(
      (*aws)->sts(), clock, random, ops.registry(),
      {.refresh_before = c.sessions.refresh_before,
       .duration_seconds = static_cast<int>(c.sessions.session_duration.count())});

  // ---- Kubernetes: every pod, namespace and ServiceAccount; TokenReviews of agents' tokens.
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-server");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  ClusterCallers callers(**kube, *policy_options, broker, clock, ops.registry(), c);
  agent::KubeTokenAuthenticator reviews(
      (*kube)->ApiWith({.request_timeout = std::chrono::seconds(2)}), c.token_audiences);
  server::DirectoryPods pods(callers.directory());
  agent::BrokerCredentials credentials(broker);
  WorkQueue workers(WorkQueueOptions{.threads = 16, .max_queued = 4096, .max_per_key = 256});
  server::ServerMetrics metrics(ops.registry());
  server::CredentialsHandler handler(reviews, pods, credentials, clock, metrics,
                                     HandlerOptionsFrom(c, random, workers, callers.events()));
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
                              std::make_shared<Routes>(ops.MakeHandler(), handler));
  if (auto ok = ops.Start(); !ok) {
    return fail("metrics listener " + c.metrics_listen, ok.error());
  }
  if (auto ok = https.Start(); !ok) {
    ops.Stop(std::chrono::milliseconds(0));
    return fail("listener " + c.listen, ok.error());
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
            {"sts", (*aws)->endpoint().url},
            {"kubernetes", (*kube)->cluster().origin}});
  (*aws)->Start();  // own credentials: retried until STS accepts them

  log.Info("shutting down", {{"signal", signals.Wait()}});
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
