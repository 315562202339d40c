#include "podiam/app/agent.hpp"

#include <optional>
#include <string>

#include "podiam/app/agent_credentials.hpp"
#include "podiam/app/agent_network.hpp"
#include "podiam/app/agent_services.hpp"
#include "podiam/app/container_credentials.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/node_metadata.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/app/role_policy.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/http/host_port.hpp"
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

  // ---- Where pods' credentials come from (STS with podiam's own credentials, or with --server
  // a podiam server), then the broker of pods' credentials.
  auto source = AgentCredentials::Create({.http = **aws_http,
                                          .clock = clock,
                                          .random = random,
                                          .registry = ops.registry(),
                                          .env = env,
                                          .log_component = "agent"},
                                         c, node_imds.ForOwnUse(), node);
  if (!source) {
    return fail("config", source.error());
  }
  creds::CredentialBroker broker(
      (*source)->source(), clock, random, ops.registry(),
      {.refresh_before = c.sessions.refresh_before,
       .duration_seconds = static_cast<int>(c.sessions.session_duration.count())});

  // ---- Kubernetes: this node's pods, all namespaces and service accounts; the pod-facing IMDS.
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-agent");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
  (*source)->WatchService(**kube);  // --server-service: the server's EndpointSlices
  NodeCallers callers(**kube, *policy_options, broker, **addresses, clock, ops.registry(), node, c);
  auto imds = PodImds::Create(callers.directory(), broker, *node_imds.client, random, clock,
                              ops.registry(), c.imds);
  if (!imds) {
    return fail("config", imds.error());
  }
  auto cc = MakeContainerCredentials(c, node, **kube, callers, **imds, broker, clock, random, ops);
  ops.readiness().Add("informers-synced", [&kube] {
    return (*kube)->HasSynced()
               ? ops::Check::Ok()
               : ops::Check::Fail("pods, namespaces or service accounts not listed yet");
  });
  ops.readiness().Add((*source)->check_name(), [&source] { return (*source)->Check(); });

  // ---- node networking, then servers: pods must never fall through to the node's IMDS.
  MetadataRedirects redirects(c.hostnet, listen->port);
  if (auto ok = redirects.Install(log); !ok) {
    return fail(redirects.failed_step(), ok.error());
  }
  MetadataListeners listeners(
      c.listener, *listen,
      redirects.needs_ipv6_listener() ? std::optional(c.hostnet.host_ipv6) : std::nullopt,
      ops.http_metrics(), (*imds)->handler());
  if (auto ok = ops.Start(); !ok) {
    return fail("ops listener " + c.ops.metrics_listen, ok.error());
  }
  if (auto ok = listeners.Start(); !ok) {
    return fail(listeners.failed_step(), ok.error());
  }
  callers.events().Start();
  broker.Start();
  callers.directory().Start();
  (*kube)->Start();
  cc->Start();  // never fatal: logs why when it cannot serve
  log.Info("agent started", {{"node", node},
                             {"listen", listen->host + ":" + std::to_string(listeners.port())},
                             {"ops", ops_listen->host + ":" + std::to_string(ops.port())},
                             {"credentials", (*source)->Describe()},
                             {"kubernetes", (*kube)->cluster().origin}});
  (*source)->Start();  // own credentials (or the server's readiness): retried until they work

  log.Info("shutting down", {{"signal", signals.Wait()}});
  listeners.Stop(std::chrono::seconds(2));
  cc->Stop();
  (*kube)->Stop();
  callers.directory().Stop();
  broker.Stop();
  (*source)->Stop();  // after the broker: no fetch in flight (Vault may revoke leases now)
  (*imds)->Stop();
  callers.events().Stop();
  ops.Stop(std::chrono::seconds(1));
  redirects.RemoveIfAsked(log);
  log.Info("agent stopped");
  return 0;
}

}  // namespace podiam::app
