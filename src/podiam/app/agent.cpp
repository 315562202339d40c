#include "podiam/app/agent.hpp"

#include <optional>
#include <string>

#include "podiam/agent/address_filter.hpp"
#include "podiam/agent/broker_source.hpp"
#include "podiam/agent/node_metadata_upstream.hpp"
#include "podiam/agent/pod_directory.hpp"
#include "podiam/app/agent_network.hpp"
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
#include "podiam/creds/credential_broker.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/identity/session_name.hpp"
#include "podiam/k8s/event_recorder.hpp"
#include "podiam/k8s/resource.hpp"
#include "podiam/metadata/imds_handler.hpp"
#include "podiam/transport/http_client.hpp"

namespace podiam::app {

int RunAgent(const cli::GlobalConfig& /*global*/, const cli::AgentConfig& c) {
  log::Logger log("agent");
  for (const auto& warning : c.compat_warnings) {  // kube2iam/kiam flags podiam does not honour
    log.Warn(warning);
  }
  auto fail = [&log](std::string_view what, const Error& error) {
    log.Error("cannot start the agent", {{"step", std::string(what)}, {"error", error.ToString()}});
    return 1;
  };
  ShutdownSignals signals;  // before any thread starts
  log.Debug("file descriptor limit", {{"soft", std::to_string(RaiseFileLimit())}});

  // ---- configuration (flags were checked at parse time; the node may come from $NODE_NAME)
  const aws::Environment env = aws::ProcessEnvironment();
  const std::string node =
      !c.node.name.empty() ? c.node.name : aws::NonEmpty(env, "NODE_NAME").value_or("");
  if (node.empty()) {
    return fail("config", Error(ErrorCode::kInvalidArgument,
                                "--node (or $NODE_NAME) is required: the agent serves one node"));
  }
  auto listen = http::ParseHostPort(c.listener.listen);
  auto ops_listen = http::ParseHostPort(c.ops.metrics_listen);
  if (!listen || !ops_listen) {
    return fail("config", !listen ? listen.error().Wrap("--listen")
                                  : ops_listen.error().Wrap("--metrics-listen"));
  }
  SystemClock clock;
  SystemRandom random;
  auto addresses = agent::AddressFilter::Create(c.node.pod_cidrs, agent::LocalAddresses, clock);
  if (!addresses) {
    return fail("config", addresses.error());
  }
  OpsStack ops(*ops_listen);
  auto aws_http = transport::BeastHttpClient::Create({});
  if (!aws_http) {
    return fail("aws http client", aws_http.error());
  }
  NodeMetadata node_imds = OpenNodeMetadata(**aws_http, clock, env);
  auto policy_options = PolicyOptionsFrom(c.roles, node_imds.ForOwnUse(), clock, log);
  if (!policy_options) {
    return fail("config", policy_options.error());
  }
  identity::RolePolicy policy(*policy_options);

  // ---- AWS: podiam's own credentials, then the broker of pods' credentials.
  auto aws = AwsStack::Create({.http = **aws_http, .clock = clock, .random = random,
                               .registry = ops.registry(), .env = env, .log_component = "agent"},
                              c.aws, node_imds.ForOwnUse(),
                              identity::SanitizeSessionName("podiam-agent-" + node));
  if (!aws) {
    return fail("config", aws.error());
  }
  const int duration_seconds = static_cast<int>(c.sessions.session_duration.count());
  creds::CredentialBroker broker(
      (*aws)->sts(), clock, random, ops.registry(),
      {.refresh_before = c.sessions.refresh_before, .duration_seconds = duration_seconds});

  // ---- Kubernetes: this node's pods, all namespaces and service accounts.
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-agent");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  const identity::AnnotationKeys& keys = policy_options->keys;
  k8s::PodCache pods({.annotation_keys = {keys.role, keys.external_id, keys.session_name},
                      .duplicate_ips = c.node.duplicate_ips == "refuse"
                                           ? k8s::DuplicateIpPolicy::kRefuse
                                           : k8s::DuplicateIpPolicy::kPreferNewest});
  k8s::NamespaceCache namespaces({.annotation_keys = {keys.allowed_roles, keys.permitted}});
  k8s::ServiceAccountCache accounts({.annotation_keys = {keys.role}});
  (*kube)->Watch(pods, {.resource = k8s::resources::Pods(), .field_selector = "spec.nodeName=" + node});
  (*kube)->Watch(namespaces, {.resource = k8s::resources::Namespaces()});
  (*kube)->Watch(accounts, {.resource = k8s::resources::ServiceAccounts()});
  k8s::EventRecorder events((*kube)->api(), clock, (*kube)->metrics(),
                            {.reporting_instance = "podiam-agent-" + node});
  // Direct lookups run inside a pod's request: keep them well under the SDKs' 1 s timeout.
  k8s::KubeApi& lookup = (*kube)->ApiWith({.request_timeout = std::chrono::milliseconds(500)});
  agent::PodDirectory directory(
      pods, namespaces, accounts, policy, broker, lookup, &events, clock, ops.registry(),
      {.node = node,
       .session_name_key = keys.session_name,
       .session = {.scope = c.sessions.session_scope,
                   .tags = c.sessions.session_tags,
                   .cluster_name = c.sessions.cluster_name,
                   .source_identity = c.sessions.source_identity},
       .duration_seconds = duration_seconds,
       .synced = [&kube] { return (*kube)->HasSynced(); },
       .is_node_address = [&](std::string_view ip) { return (*addresses)->IsNodeAddress(ip); },
       .may_be_pod = [&](std::string_view ip) { return (*addresses)->MayBePod(ip); }});

  // ---- the pod-facing handler; blocking work (STS fetches, the node's metadata service) off the
  // I/O threads: bounded, and no source address may hold more than its share of it.
  auto issuer = metadata::ImdsTokenIssuer::Create(random, clock);
  if (!issuer) {
    return fail("imds tokens", issuer.error());
  }
  metadata::ImdsMetrics imds_metrics(ops.registry());
  agent::BrokerSource source(broker);
  agent::NodeMetadataUpstream upstream(*node_imds.client);  // pods' requests, allowed paths only
  WorkQueue workers({.threads = 16, .max_queued = 1024, .max_per_key = 8});
  auto imds = metadata::ImdsHandler::Create(
      directory, source, **issuer, clock, imds_metrics,
      {.imdsv1 = c.imds.imdsv1,
       .allow_path = c.imds.allow_metadata_path,
       .default_allow_list = c.imds.metadata_allow_list == "default",
       .offload = [&workers](std::string_view source_ip,
                             std::function<void()> work) {
         return workers.TryPost(source_ip, std::move(work));
       }},
      &upstream);
  if (!imds) {
    return fail("config", imds.error());
  }
  ops.readiness().Add("informers-synced", [&kube] {
    return (*kube)->HasSynced()
               ? ops::Check::Ok()
               : ops::Check::Fail("pods, namespaces or service accounts not listed yet");
  });
  ops.readiness().Add("aws-credentials", [&aws] { return (*aws)->CredentialsCheck(); });

  // ---- node networking, then servers: pods must never fall through to the node's IMDS.
  MetadataRedirects redirects(c.hostnet, listen->port);
  if (auto ok = redirects.Install(log); !ok) {
    return fail(redirects.failed_step(), ok.error());
  }
  MetadataListeners listeners(
      c.listener, *listen,
      redirects.needs_ipv6_listener() ? std::optional(c.hostnet.host_ipv6) : std::nullopt,
      ops.http_metrics(), *imds);
  if (auto ok = ops.Start(); !ok) {
    return fail("ops listener " + c.ops.metrics_listen, ok.error());
  }
  if (auto ok = listeners.Start(); !ok) {
    return fail(listeners.failed_step(), ok.error());
  }
  events.Start();
  broker.Start();
  directory.Start();
  (*kube)->Start();
  log.Info("agent started", {{"node", node},
                             {"listen", listen->host + ":" + std::to_string(listeners.port())},
                             {"ops", ops_listen->host + ":" + std::to_string(ops.port())},
                             {"sts", (*aws)->endpoint().url},
                             {"kubernetes", (*kube)->cluster().origin}});
  (*aws)->Start();  // own credentials: retried until STS accepts them

  log.Info("shutting down", {{"signal", signals.Wait()}});
  listeners.Stop(std::chrono::seconds(2));
  (*kube)->Stop();
  (*aws)->Stop();
  directory.Stop();
  broker.Stop();
  workers.Stop();
  events.Stop();
  ops.Stop(std::chrono::seconds(1));
  redirects.RemoveIfAsked(log);
  log.Info("agent stopped");
  return 0;
}

}  // namespace podiam::app
