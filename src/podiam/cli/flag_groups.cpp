#include "podiam/cli/flag_groups.hpp"

#include <fmt/format.h>

#include <map>
#include <string>

#include "podiam/aws/arn.hpp"
#include "podiam/aws/endpoint.hpp"
#include "podiam/cli/flags.hpp"
#include "podiam/creds/credential_broker.hpp"
#include "podiam/creds/session_duration.hpp"
#include "podiam/http/host_port.hpp"
#include "podiam/http/message.hpp"

namespace podiam::cli {
namespace {

Result<void> CheckListen(std::string_view flag, const std::string& value) {
  if (auto address = http::ParseHostPort(value); !address) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} {}", flag, address.error().message()));
  }
  return {};
}

}  // namespace

void AddKubeFlags(CLI::App& app, KubeFlags& flags) {
  AddFlag(app, "--kubeconfig", flags.kubeconfig,
          "Path to a kubeconfig; default $KUBECONFIG, then in-cluster configuration")
      ->group("Kubernetes");
  AddBool(app, "--kube-insecure-skip-tls-verify", flags.insecure_skip_tls_verify,
          "Honour insecure-skip-tls-verify from the kubeconfig (never do this in production)")
      ->group("Kubernetes");
}

void AddAwsFlags(CLI::App& app, AwsFlags& flags) {
  AddFlag(
      app, "--region", flags.region,
      "AWS region for STS; default $AWS_REGION, $AWS_DEFAULT_REGION, else the node's own region "
      "(metadata service placement/region), else us-east-1")
      ->group("AWS");
  AddFlag(app, "--sts-endpoint", flags.sts_endpoint,
          "STS endpoint URL override (default: regional)")
      ->group("AWS");
  AddFlag(app, "--assume-role", flags.assume_role,
          "Intermediate role podiam assumes first and uses for all pod roles")
      ->group("AWS");
}

Result<void> CheckAwsFlags(const AwsFlags& flags) {
  if (!flags.region.empty()) {
    if (auto endpoint = aws::ResolveStsEndpoint({.region = flags.region}); !endpoint) {
      return tl::unexpected(endpoint.error().Wrap("--region"));
    }
  }
  if (!flags.sts_endpoint.empty()) {
    if (auto url = http::ParseUrl(flags.sts_endpoint); !url) {
      return tl::unexpected(url.error().Wrap("--sts-endpoint"));
    }
  }
  if (!flags.assume_role.empty()) {
    if (auto role = aws::ParseRoleArn(flags.assume_role); !role) {
      return tl::unexpected(role.error().Wrap("--assume-role"));
    }
  }
  return {};
}

void AddRoleFlags(CLI::App& app, RoleFlags& flags) {
  const char* group = "Roles and namespace restrictions";
  AddFlag(app, "--base-role-arn", flags.base_role_arn,
          "Prefix for bare role names, e.g. arn:aws:iam::123456789012:role/ (kube2iam)")
      ->group(group);
  AddBool(app, "--auto-discover-base-arn", flags.auto_discover_base_arn,
          "Take the base role ARN from the node's own IAM role (kube2iam)")
      ->group(group);
  AddFlag(app, "--default-role", flags.default_role,
          "Role for pods without an annotation; default none (no credentials)")
      ->group(group);
  AddFlag(app, "--iam-role-key", flags.iam_role_key,
          "Pod/ServiceAccount annotation naming the role")
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--iam-external-id", flags.iam_external_id,
          "Pod annotation with the STS external ID")
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--namespace-key", flags.namespace_key,
          "Namespace annotation listing allowed roles (kube2iam JSON list)")
      ->capture_default_str()
      ->group(group);
  AddBool(app, "--namespace-restrictions", flags.namespace_restrictions,
          "Enforce namespace role restrictions; a namespace without annotations allows nothing")
      ->group(group);
  AddChoice(app, "--namespace-restriction-format", flags.namespace_restriction_format,
            {{"glob", identity::RestrictionFormat::kGlob},
             {"regexp", identity::RestrictionFormat::kRegexp}},
            "How allowed-roles entries match: glob or regexp (anchored)")
      ->group(group);
}

Result<void> CheckRoleFlags(const RoleFlags& flags) {
  if (!flags.base_role_arn.empty()) {
    if (auto base = aws::ParseBaseRoleArn(flags.base_role_arn); !base) {
      return tl::unexpected(base.error().Wrap("--base-role-arn"));
    }
  }
  return {};
}

void AddSessionFlags(CLI::App& app, SessionFlags& flags) {
  const char* group = "Sessions";
  AddDuration(app, "--session-duration", flags.session_duration,
              "Lifetime of the credentials podiam requests (default 1h)")
      ->group(group);
  AddDuration(app, "--refresh-before", flags.refresh_before,
              "Refresh credentials this long before they expire (default 30m)")
      ->group(group);
  AddFlag(app, "--cluster-name", flags.cluster_name,
          "Cluster name for the cluster-name session tag")
      ->group(group);
  AddBool(app, "--session-tags", flags.session_tags,
          "Tag sessions with kubernetes-namespace, -pod-name, -service-account, -pod-uid")
      ->group(group);
  AddBool(app, "--source-identity", flags.source_identity,
          "Set SourceIdentity to the session name (namespace.pod, or namespace.sa=NAME)")
      ->group(group);
  AddChoice(app, "--session-scope", flags.session_scope,
            {{"pod", identity::SessionScope::kPod},
             {"service-account", identity::SessionScope::kServiceAccount}},
            "Whose session credentials are: pod (one per pod, CloudTrail names the pod) or "
            "service-account (shared per namespace, ServiceAccount and role: fewer STS calls)")
      ->group(group);
}

Result<void> CheckSessionFlags(const SessionFlags& flags, bool role_chaining) {
  return creds::CheckSessionDuration({.duration = flags.session_duration,
                                      .refresh_before = flags.refresh_before,
                                      .min_remaining = creds::BrokerOptions{}.min_remaining,
                                      .role_chaining = role_chaining});
}

void AddListenerFlags(CLI::App& app, ListenerFlags& flags) {
  const char* group = "Metadata listener";
  AddFlag(app, "--listen", flags.listen, "Address:port for pods' metadata requests")
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--max-connections-per-pod", flags.max_connections_per_pod,
          "Open connections one pod (source IP) may hold to the metadata listener; more are closed")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--threads", flags.threads,
          "I/O threads serving pods' metadata requests; 0: one per CPU, at most 4")
      ->check(CLI::Range(0, 64))
      ->capture_default_str()
      ->group(group);
}

Result<void> CheckListenerFlags(const ListenerFlags& flags) {
  return CheckListen("--listen", flags.listen);
}

void AddOpsFlags(CLI::App& app, OpsFlags& flags) {
  AddFlag(app, "--metrics-listen", flags.metrics_listen,
          "Address:port for /metrics, /healthz, /readyz")
      ->capture_default_str()
      ->group("Operations");
}

Result<void> CheckOpsFlags(const OpsFlags& flags) {
  return CheckListen("--metrics-listen", flags.metrics_listen);
}

void AddHostnetFlags(CLI::App& app, HostnetFlags& flags) {
  const char* group = "Node networking";
  AddBool(app, "--iptables", flags.iptables,
          "Install the DNAT rule sending pods' metadata traffic to the agent")
      ->group(group);
  AddFlag(app, "--host-interface", flags.host_interface,
          "Pod-facing interface(s) for the DNAT rule: cni0, cali+ or !eth0")
      ->group(group);
  AddFlag(app, "--host-ip", flags.host_ip, "This node's IP, the DNAT target")->group(group);
  AddBool(app, "--iptables-remove-on-exit", flags.iptables_remove_on_exit,
          "Remove the DNAT rule on exit (default: keep it, so pods never reach the node's IMDS)")
      ->group(group);
  AddFlag(app, "--metadata-addr", flags.metadata_addr, "Metadata address to intercept")
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--metadata-addr-v6", flags.metadata_addr_v6, "IPv6 metadata address; empty: off")
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--host-ipv6", flags.host_ipv6, "This node's IPv6 address, the IPv6 DNAT target")
      ->group(group);
  AddFlag(app, "--ipv6-metadata", flags.ipv6_metadata,
          "IPv6 DNAT rule: on, off, or auto (needed when the node routes the IPv6 address)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str()
      ->group(group);
}

void AddImdsFlags(CLI::App& app, ImdsFlags& flags) {
  const char* group = "Metadata paths";
  AddFlag(app, "--metadata-allow-list", flags.metadata_allow_list,
          "Metadata paths SDKs read for region discovery, passed to the node's IMDS: default "
          "(placement/region, placement/availability-zone, dynamic/instance-identity/document) or "
          "none")
      ->check(CLI::IsMember({"default", "none"}))
      ->capture_default_str()
      ->group(group);
  AddFlag(app, "--allow-metadata-path", flags.allow_metadata_path,
          "Regular expression of other metadata paths passed to the node's IMDS; default none")
      ->group(group);
  AddChoice(app, "--imdsv1", flags.imdsv1, {{"allow", true}, {"deny", false}},
            "allow: answer GETs without a session token; deny: require IMDSv2 tokens")
      ->group(group);
}

void AddNodeFlags(CLI::App& app, NodeFlags& flags) {
  const char* group = "Node";
  AddFlag(app, "--node", flags.name, "Name of this node; default $NODE_NAME")->group(group);
  AddFlag(app, "--pod-cidr", flags.pod_cidrs,
          "This node's pod address range(s); callers outside them are answered at once (repeat or "
          "comma-separate; default: any address may be a pod)")
      ->delimiter(',')
      ->group(group);
  AddFlag(app, "--duplicate-ips", flags.duplicate_ips,
          "When several running pods claim one IP: newest (the newest pod owns it) or refuse "
          "(nobody gets credentials from it until the conflict is gone, as kube2iam)")
      ->check(CLI::IsMember({"newest", "refuse"}))
      ->capture_default_str()
      ->group(group);
}

}  // namespace podiam::cli
