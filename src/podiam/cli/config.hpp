// Plain configuration structs filled by the command line (cli/) and consumed by the composition
// roots (app/). No behaviour here.
//
// Flags come in groups, one struct per concern (cli/flag_groups.hpp registers and checks each);
// a subcommand's config is the groups it needs plus its own fields. Two subcommands that need the
// same concern (Kubernetes access, podiam's own AWS credentials, the ops listener, ...) share the
// group, its flag names, its PODIAM_<FLAG> variables and its checks.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "podiam/base/log.hpp"
#include "podiam/cli/container_credentials_config.hpp"
#include "podiam/cli/vault_config.hpp"
#include "podiam/identity/annotations.hpp"
#include "podiam/identity/policy.hpp"
#include "podiam/identity/session_name.hpp"

namespace podiam::cli {

// Flags every subcommand accepts.
struct GlobalConfig {
  log::Options log;
};

// Access to the Kubernetes API (app/kube_stack.hpp).
struct KubeFlags {
  std::string kubeconfig;                 // --kubeconfig; empty: $KUBECONFIG, then in-cluster
  bool insecure_skip_tls_verify = false;  // --kube-insecure-skip-tls-verify
};

// podiam's own AWS identity and STS (app/aws_stack.hpp).
struct AwsFlags {
  std::string region;        // --region; empty: $AWS_REGION, $AWS_DEFAULT_REGION, node IMDS
  std::string sts_endpoint;  // --sts-endpoint URL override
  std::string assume_role;   // --assume-role: intermediate role for all STS calls
};

// Which role a pod may have (identity::PolicyOptions).
struct RoleFlags {
  std::string base_role_arn;            // --base-role-arn
  bool auto_discover_base_arn = false;  // --auto-discover-base-arn (from the node's IMDS role)
  std::string default_role;             // --default-role; empty: none
  std::string iam_role_key{identity::annotations::kRole};
  std::string iam_external_id{identity::annotations::kExternalId};
  std::string namespace_key{identity::annotations::kAllowedRoles};
  bool namespace_restrictions = true;
  identity::RestrictionFormat namespace_restriction_format = identity::RestrictionFormat::kGlob;
};

// The STS sessions podiam asks for on pods' behalf.
struct SessionFlags {
  std::chrono::seconds session_duration{3600};  // --session-duration
  std::chrono::seconds refresh_before{1800};    // --refresh-before
  std::string cluster_name;                     // --cluster-name (session tag cluster-name)
  bool session_tags = false;                    // --session-tags
  bool source_identity = false;                 // --source-identity
  identity::SessionScope session_scope = identity::SessionScope::kPod;  // --session-scope
};

// The pod-facing listener.
struct ListenerFlags {
  std::string listen = "0.0.0.0:8181";  // --listen: pods' metadata requests
  int max_connections_per_pod = 128;    // --max-connections-per-pod: per source IP
  int threads = 0;  // --threads: metadata I/O threads; 0: one per CPU, at most 4
};

// /metrics /healthz /readyz (app/ops_stack.hpp).
struct OpsFlags {
  std::string metrics_listen = "0.0.0.0:9620";  // --metrics-listen
};

// The metadata DNAT rules (hostnet/).
struct HostnetFlags {
  bool iptables = false;       // --iptables
  std::string host_interface;  // --host-interface: cni0, cali+, !eth0
  std::string host_ip;         // --host-ip
  bool iptables_remove_on_exit = false;
  std::string metadata_addr = "169.254.169.254";
  std::string metadata_addr_v6 = "fd00:ec2::254";  // --metadata-addr-v6; empty: no IPv6 rule
  std::string host_ipv6;                           // --host-ipv6: the IPv6 DNAT target
  std::string ipv6_metadata = "auto";              // --ipv6-metadata: auto | on | off
};

// What the pod-facing IMDS answers (metadata::ImdsOptions).
struct ImdsFlags {
  std::string allow_metadata_path;              // --allow-metadata-path REGEX
  std::string metadata_allow_list = "default";  // --metadata-allow-list default|none
  bool imdsv1 = true;                           // --imdsv1 allow|deny
};

// Which pods are this node's (the agent's caller directory).
struct NodeFlags {
  std::string name;                      // --node; default $NODE_NAME (read at start-up)
  std::vector<std::string> pod_cidrs;    // --pod-cidr (repeatable): only these can be pods
  std::string duplicate_ips = "newest";  // --duplicate-ips newest|refuse (kube2iam: refuse)
};

// `podiam agent --server`: pods' credentials from podiam server instead of STS
// (cli/server_flags.hpp).
struct ServerSourceFlags {
  std::vector<std::string> urls;  // --server URL[,URL...] (repeatable); empty: call STS
  std::string ca_file;            // --server-ca; empty: the system's trust store
  std::string token_file = "/var/run/secrets/podiam/server/token";  // --server-token-file
  std::string cert_file;                                            // --server-cert (mTLS)
  std::string key_file;                                             // --server-key
  // --server-service NAMESPACE/NAME[:PORT]: also the Service's ready endpoints (EndpointSlices)
  std::string service;
  // Server mode: --server or --server-service given.
  [[nodiscard]] bool enabled() const { return !urls.empty() || !service.empty(); }
};

// `podiam agent`: kube2iam's flag names where they exist (docs/agent.md has the migration table).
struct AgentConfig {
  KubeFlags kube;
  AwsFlags aws;
  RoleFlags roles;
  SessionFlags sessions;
  ListenerFlags listener;
  OpsFlags ops;
  HostnetFlags hostnet;
  ImdsFlags imds;
  NodeFlags node;
  // Warning lines for the kube2iam/kiam flags given that podiam accepts but does not honour, each
  // saying what podiam does instead (cli/compat_flags.hpp); the agent logs them once at start-up.
  std::vector<std::string> compat_warnings;
  ContainerCredentialsConfig container_credentials;  // --container-credentials* and friends
  ServerSourceFlags server;                          // --server*: server mode
  VaultConfig vault;  // --credential-source, --vault-* (docs/vault.md)
};

enum class Command {
  kNone,
  kAgent,
  kServer,
  kWebhook,
  kController,
  kOidc,
  kIam,
  kExplain,
  kCredentialProcess
};

}  // namespace podiam::cli
