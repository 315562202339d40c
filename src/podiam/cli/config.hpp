// Plain configuration structs filled by the command line (cli/) and consumed by the composition
// roots (app/). No behaviour here.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "podiam/base/log.hpp"
#include "podiam/cli/container_credentials_config.hpp"

namespace podiam::cli {

// Flags every subcommand accepts.
struct GlobalConfig {
  log::Options log;
};

// `podiam agent`: kube2iam's flag names where they exist (docs/agent.md has the migration table).
// Values are as typed; app/ validates what needs more than syntax (ARNs, URLs, addresses) at
// start-up with one actionable log line.
struct AgentConfig {
  std::string kubeconfig;                       // --kubeconfig; empty: KUBECONFIG, then in-cluster
  bool kube_insecure_skip_tls_verify = false;   // honour insecure-skip-tls-verify in kubeconfig
  std::string node;                             // --node; default $NODE_NAME
  std::string listen = "0.0.0.0:8181";          // --listen: pods' metadata requests
  std::string metrics_listen = "0.0.0.0:9620";  // --metrics-listen: /metrics /healthz /readyz
  std::string base_role_arn;                    // --base-role-arn
  bool auto_discover_base_arn = false;  // --auto-discover-base-arn (from the node's IMDS role)
  std::string default_role;             // --default-role; empty: none
  std::string iam_role_key = "iam.amazonaws.com/role";
  std::string iam_external_id = "iam.amazonaws.com/external-id";
  std::string namespace_key = "iam.amazonaws.com/allowed-roles";
  bool namespace_restrictions = true;
  std::string namespace_restriction_format = "glob";  // glob | regexp
  std::string region;        // --region; empty: AWS_REGION / AWS_DEFAULT_REGION / us-east-1
  std::string sts_endpoint;  // --sts-endpoint URL override
  std::chrono::seconds session_duration{3600};  // --session-duration
  std::chrono::seconds refresh_before{1800};    // --refresh-before
  std::string cluster_name;                     // --cluster-name (session tag cluster-name)
  bool session_tags = false;                    // --session-tags
  bool source_identity = false;                 // --source-identity
  std::string session_scope = "pod";            // --session-scope pod|service-account
  std::string assume_role;     // --assume-role: intermediate role for all STS calls
  bool iptables = false;       // --iptables
  std::string host_interface;  // --host-interface: cni0, cali+, !eth0
  std::string host_ip;         // --host-ip
  bool iptables_remove_on_exit = false;
  std::string metadata_addr_v6 = "fd00:ec2::254";  // --metadata-addr-v6; empty: no IPv6 rule
  std::string host_ipv6;                           // --host-ipv6: the IPv6 DNAT target
  std::string ipv6_metadata = "auto";              // --ipv6-metadata: auto | on | off
  std::string metadata_addr = "169.254.169.254";
  std::string allow_metadata_path;              // --allow-metadata-path REGEX
  std::string metadata_allow_list = "default";  // --metadata-allow-list default|none
  bool imdsv1 = true;                           // --imdsv1 allow|deny
  int max_connections_per_pod = 128;   // --max-connections-per-pod: open connections per source IP
  std::vector<std::string> pod_cidrs;  // --pod-cidr (repeatable): only these can be pods
  std::string duplicate_ips = "newest";  // --duplicate-ips newest|refuse (kube2iam: refuse)
  int threads = 0;  // --threads: metadata I/O threads; 0: one per CPU, at most 4
  // Warning lines for the kube2iam/kiam flags given that podiam accepts but does not honour, each
  // saying what podiam does instead (cli/compat_flags.hpp); the agent logs them once at start-up.
  std::vector<std::string> compat_warnings;
  ContainerCredentialsConfig container_credentials;  // --container-credentials* and friends
};

enum class Command { kNone, kAgent, kServer, kWebhook, kController, kOidc, kExplain };

}  // namespace podiam::cli
