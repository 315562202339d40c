// `podiam agent`: builds the node agent from its configuration and runs it until SIGTERM/SIGINT.
//
//   pods ──(169.254.169.254 DNAT)──> HttpServer "imds" ─> metadata::ImdsHandler
//                                          │                 │ Find/Await        │ Cached/Fetch
//                                          │     callers::PodDirectory   callers::BrokerSource
//                                          │       (k8s informers, policy) (creds::CredentialBroker
//                                          │                                  ->
//                                          aws::HttpStsClient)
//   Prometheus, kubelet probes ──> HttpServer "ops" ─> /metrics /healthz /readyz
//
// RunAgent is the agent-only wiring over the shared stacks (app/process.hpp, node_metadata.hpp,
// aws_stack.hpp, kube_stack.hpp, ops_stack.hpp, role_policy.hpp) and the agent's own pieces
// (app/agent_services.hpp: callers and the pod-facing handler; app/agent_network.hpp: DNAT rules
// and listeners). Flags arrive checked (cli::ParseAndCheck); only what needs the node or the
// cluster is checked here.
//
// Start-up order makes the agent safe from its first request: the DNAT rule and both servers
// come up first (so pods never fall through to the node's own metadata service), requests for
// pods not yet known wait briefly or are looked up directly, and /readyz stays false until the
// informers have synced and podiam's own AWS credentials work.
//
// Thread-safety: call once.
#pragma once

#include "podiam/cli/config.hpp"

namespace podiam::app {

// Returns the process exit code: 0 after a clean shutdown, 1 on a start-up error (logged as one
// actionable line).
int RunAgent(const cli::GlobalConfig& global, const cli::AgentConfig& config);

}  // namespace podiam::app
