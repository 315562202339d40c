// `podiam server`'s configuration (docs/server.md has the flag table and kiam's names). The
// agent's --server flags (where it reaches a server) are in server_flags.hpp.
//
// Thread-safety: plain data.
#pragma once

#include <chrono>
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
  // High availability and sharding (docs/server.md): Lease membership, owned-key prefetch, peers.
  bool sharding = true;              // --sharding on|off
  std::string identity;              // --identity; "": $POD_NAME, else $HOSTNAME
  std::string membership_namespace;  // --membership-namespace; "": $POD_NAMESPACE, else kube-system
  std::string membership_lease_prefix = "podiam-server";  // --membership-lease-prefix
  std::chrono::seconds membership_lease_duration{15};     // --membership-lease-duration
  std::chrono::seconds membership_renew_period{5};        // --membership-renew-period
  std::string peer_url;  // --peer-url; "": https://$POD_IP:<--listen port>
  std::string peer_ca;   // --peer-ca; "": --ca when set, else the system's trust store
  // --peer-tls-server-name: the name peers' certificates are verified for; "": the URL's host.
  std::string peer_tls_server_name;
  std::string peer_token_file = "/var/run/secrets/podiam/server/token";  // --peer-token-file
  // --peer-service-account NS:NAME (repeatable): whose tokens are replicas.
  std::vector<std::string> peer_service_accounts = {"kube-system:podiam-server"};
  // Warnings for kiam server flags accepted but not honoured; logged once at start-up.
  std::vector<std::string> compat_warnings;
};

}  // namespace podiam::cli
