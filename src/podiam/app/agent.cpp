#include "podiam/app/agent.hpp"

#include <optional>
#include <string>

#include "podiam/app/agent_network.hpp"
#include "podiam/app/agent_services.hpp"
#include "podiam/app/aws_stack.hpp"
#include "podiam/app/container_credentials.hpp"
#include "podiam/app/kube_stack.hpp"
#include "podiam/app/node_metadata.hpp"
#include "podiam/app/ops_stack.hpp"
#include "podiam/app/process.hpp"
#include "podiam/app/role_policy.hpp"
#include "podiam/app/vault_stack.hpp"
#include "podiam/aws/environment.hpp"
#include "podiam/base/clock.hpp"
#include "podiam/base/random.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/identity/session_name.hpp"
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

  // ---- AWS: podiam's own credentials, then the broker of pods' credentials.
  auto aws = AwsStack::Create({.http = **aws_http,
                               .clock = clock,
                               .random = random,
                               .registry = ops.registry(),
                               .env = env,
                               .log_component = "agent"},
                              c.aws, node_imds.ForOwnUse(),
                              identity::SanitizeSessionName("podiam-agent-" + node));
  if (!aws) {
    return fail("config", aws.error());
  }
  // --credential-source vault: pods' credentials come from Vault's AWS secrets engine; podiam's
  // own AWS credentials are then not needed (docs/vault.md).
  std::unique_ptr<VaultStack> vault;
  if (c.vault.credential_source == "vault") {
    auto created = VaultStack::Create(c.vault, clock, ops.registry());
    if (!created) {
      return fail("vault", created.error());
    }
    vault = std::move(*created);
  }
  creds::StsSource sts_source((*aws)->sts());
  creds::CredentialBroker broker(
      vault ? vault->source() : static_cast<creds::CredentialSource&>(sts_source), clock, random,
      ops.registry(),
      {.refresh_before = c.sessions.refresh_before,
       .duration_seconds = static_cast<int>(c.sessions.session_duration.count())});

  // ---- Kubernetes: this node's pods, all namespaces and service accounts; the pod-facing IMDS.
  auto kube = KubeStack::Connect(c.kube, clock, random, ops.registry(), "podiam-agent");
  if (!kube) {
    return fail("kubernetes", kube.error());
  }
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
  if (vault) {
    ops.readiness().Add("vault-login", [&vault] { return vault->Check(); });
  } else {
    ops.readiness().Add("aws-credentials", [&aws] { return (*aws)->CredentialsCheck(); });
  }

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
                             {"sts", (*aws)->endpoint().url},
                             {"credential_source", vault ? "vault " + c.vault.addr : "sts"},
                             {"kubernetes", (*kube)->cluster().origin}});
  if (vault) {
    vault->Start();  // login, retried until Vault accepts podiam's token; then renewals
  } else {
    (*aws)->Start();  // own credentials: retried until STS accepts them
  }

  log.Info("shutting down", {{"signal", signals.Wait()}});
  listeners.Stop(std::chrono::seconds(2));
  cc->Stop();
  (*kube)->Stop();
  (*aws)->Stop();
  callers.directory().Stop();
  broker.Stop();
  if (vault) {
    vault->Stop();  // after the broker: no fetch is in flight when leases are revoked
  }
  (*imds)->Stop();
  callers.events().Stop();
  ops.Stop(std::chrono::seconds(1));
  redirects.RemoveIfAsked(log);
  log.Info("agent stopped");
  return 0;
}

}  // namespace podiam::app
