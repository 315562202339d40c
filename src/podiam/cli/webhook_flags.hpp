// `podiam webhook`'s flags: amazon-eks-pod-identity-webhook's names, defaults and meanings
// (docs/webhook.md has the table), plus podiam's own. The reference parses with pflag, so only
// `--flag=value`, `--flag value` and, for booleans, `--flag` / `--flag=false` are its forms; the
// same forms work here. Its flags podiam has no use for are accepted and reported once at start-up
// (`compat_warnings`), so that an unchanged Deployment starts.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "podiam/cli/webhook_certs_flags.hpp"

namespace podiam::cli {

struct WebhookConfig {
  // ---- the reference's flags
  std::string annotation_prefix = "eks.amazonaws.com";
  std::string token_audience = "sts.amazonaws.com";
  std::string token_mount_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
  std::int64_t token_expiration = 86400;  // raised to 600 when lower, as the reference does
  std::string aws_default_region;
  bool sts_regional_endpoint = false;
  int port = 443;
  std::string tls_cert = "/etc/webhook/certs/tls.crt";
  std::string tls_key = "/etc/webhook/certs/tls.key";
  int metrics_port = 9999;
  bool in_cluster = true;
  std::string kubeconfig;
  std::string watch_container_credentials_config;
  std::string container_credentials_audience = "pods.eks.amazonaws.com";
  std::string container_credentials_token_mount_path =
      "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
  std::string container_credentials_token_volume_name = "eks-pod-identity-token";
  std::string container_credentials_token_path = "eks-pod-identity-token";
  std::string container_credentials_full_uri = "http://169.254.170.23/v1/credentials";
  // ---- podiam's own
  std::string listen_address = "0.0.0.0";  // --listen-address: for --port and --metrics-port
  bool pod_identity_associations = false;  // --pod-identity-associations: watch the CRD
  // --container-credentials-from-annotations: a ServiceAccount carrying the --iam-role-key
  // annotation (podiam agent's role annotation) gets container credentials (docs/webhook.md R21).
  bool container_credentials_from_annotations = false;
  std::string iam_role_key = "iam.amazonaws.com/role";   // --iam-role-key, as for the agent
  std::chrono::milliseconds lookup_timeout{3000};        // --service-account-lookup-timeout
  std::chrono::milliseconds tls_reload_interval{10000};  // --tls-reload-interval
  int threads = 4;                                       // --threads
  // --informer-start-delay (hidden, tests): start the ServiceAccount informer this much later, to
  // reproduce admissions that arrive before the cache has the ServiceAccount.
  std::chrono::milliseconds informer_start_delay{0};
  bool kube_insecure_skip_tls_verify = false;
  // The reference's flags podiam accepts but does not use, one warning line each.
  std::vector<std::string> compat_warnings;
  // `podiam webhook certs ...`: make the serving certificate instead of running the webhook.
  WebhookCertsConfig certs;
};

// Registers the flags on the `webhook` subcommand. Values are checked while parsing (a bad one is
// a usage error: one line on stderr, exit 2).
void AddWebhookFlags(CLI::App& sub, WebhookConfig& config);

}  // namespace podiam::cli
