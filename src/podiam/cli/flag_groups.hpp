// Flag groups: one per concern, each a config struct (cli/config.hpp), a function registering its
// flags on a subcommand, and a check of what the values mean that needs no I/O. A subcommand
// that needs a concern calls the group's Add...Flags() and, in its own check, Check...(), so the
// same setting has the same flag, PODIAM_<FLAG> variable and message in every subcommand.
//
// Add...Flags() registers the struct's current values as the defaults shown in --help: set a
// different default before calling it. Each flag lands in the help group named after its concern.
// Check...() returns kInvalidArgument with one line naming the flag.
//
// Thread-safety: as ParseCommandLine (once, from main).
//
//   cli::AddKubeFlags(sub, config.kube);  ...  if (auto ok = cli::CheckAwsFlags(config.aws); !ok)
#pragma once

#include <CLI/CLI.hpp>

#include "podiam/base/error.hpp"
#include "podiam/cli/config.hpp"

namespace podiam::cli {

// --kubeconfig, --kube-insecure-skip-tls-verify. Nothing to check without reading files.
void AddKubeFlags(CLI::App& app, KubeFlags& flags);

// --region, --sts-endpoint, --assume-role. Checks the region's and the URL's syntax and that
// --assume-role is a role ARN.
void AddAwsFlags(CLI::App& app, AwsFlags& flags);
Result<void> CheckAwsFlags(const AwsFlags& flags);

// --base-role-arn, --auto-discover-base-arn, --default-role, the annotation keys,
// --namespace-restrictions, --namespace-restriction-format. Checks the base ARN.
void AddRoleFlags(CLI::App& app, RoleFlags& flags);
Result<void> CheckRoleFlags(const RoleFlags& flags);

// --session-duration, --refresh-before, --cluster-name, --session-tags, --source-identity,
// --session-scope. Checks the lifetime against the refresh margin and STS's limits
// (creds::CheckSessionDuration); `role_chaining`: podiam's own credentials are an assumed role.
void AddSessionFlags(CLI::App& app, SessionFlags& flags);
Result<void> CheckSessionFlags(const SessionFlags& flags, bool role_chaining);

// --listen, --max-connections-per-pod, --threads. Checks the address.
void AddListenerFlags(CLI::App& app, ListenerFlags& flags);
Result<void> CheckListenerFlags(const ListenerFlags& flags);

// --metrics-listen. Checks the address.
void AddOpsFlags(CLI::App& app, OpsFlags& flags);
Result<void> CheckOpsFlags(const OpsFlags& flags);

// --iptables, --host-interface, --host-ip, --iptables-remove-on-exit, --metadata-addr,
// --metadata-addr-v6, --host-ipv6, --ipv6-metadata. The rules check their addresses when
// installed (hostnet/).
void AddHostnetFlags(CLI::App& app, HostnetFlags& flags);

// --metadata-allow-list, --allow-metadata-path, --imdsv1. The path expression is compiled by the
// handler (metadata::ImdsHandler::Create) at start-up.
void AddImdsFlags(CLI::App& app, ImdsFlags& flags);

// --node, --pod-cidr, --duplicate-ips. $NODE_NAME and the ranges are checked at start-up.
void AddNodeFlags(CLI::App& app, NodeFlags& flags);

}  // namespace podiam::cli
