// `podiam server`'s configuration (docs/server.md has the flag table and kiam's names). The
// agent's --server flags (where it reaches a server) are in server_flags.hpp.
//
// Thread-safety: plain data.
#pragma once

#include <string>
#include <vector>

#include "podiam/cli/config.hpp"

namespace podiam::cli {

struct ServerConfig {
  KubeFlags kube;
  AwsFlags aws;
  RoleFlags roles;
  SessionFlags sessions;
  // --listen (kiam: --bind): the agents' HTTPS port, also serving /healthz /readyz /metrics.
  std::string listen = "0.0.0.0:8443";
  // --metrics-listen: an extra plain-HTTP listener for /metrics /healthz /readyz; "" none.
  std::string metrics_listen;
  std::string tls_cert;       // --cert (required)
  std::string tls_key;        // --key (required)
  std::string tls_client_ca;  // --ca: agents must also present a certificate it signed
  std::vector<std::string> token_audiences = {"podiam-server"};  // --token-audience
  // --agent-service-account NS:NAME (repeatable).
  std::vector<std::string> agent_service_accounts = {"kube-system:podiam-agent"};
  bool allow_unbound_agents = false;  // --allow-unbound-agents
  int threads = 2;                    // --threads: HTTPS I/O threads
  // Warnings for kiam server flags accepted but not honoured; logged once at start-up.
  std::vector<std::string> compat_warnings;
};

}  // namespace podiam::cli
