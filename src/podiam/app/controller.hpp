// `podiam controller`: AWSIAMRoles (podiam.io/v1, optionally zalando.org/v1) become Secrets with
// refreshed credentials (docs/controller.md).
//
//   informers (AWSIAMRoles, Namespaces) ─> controller::Controller (work queue, workers)
//        ─> controller::Reconciler ─> Secrets, status, Events (KubeApi, EventRecorder)
//                                   ─> creds::CredentialBroker ─> STS (app/aws_stack.hpp)
//   Prometheus, kubelet probes ─> /metrics /healthz /readyz (app/ops_stack.hpp)
//
// `podiam credential-process`: prints the credentials.json of a mounted AWSIAMRole Secret for an
// SDK's credential_process, finding it next to $AWS_CONFIG_FILE (or
// $AWS_SHARED_CREDENTIALS_FILE), wherever the Secret is mounted.
//
// Thread-safety: call once.
#pragma once

#include "podiam/cli/command_line.hpp"

namespace podiam::app {

// 0 after a clean shutdown, 1 on a start-up error (one log line naming the step).
int RunController(const cli::GlobalConfig& global, const cli::ControllerConfig& config);

// 0 with the credentials on stdout; 1 with one line on stderr.
int RunCredentialProcess(const cli::GlobalConfig& global,
                         const cli::CredentialProcessConfig& config);

}  // namespace podiam::app
