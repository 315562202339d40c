// `podiam webhook`: builds the mutating admission webhook from its configuration and runs it
// until SIGTERM/SIGINT (docs/webhook.md).
//
//   kube-apiserver ──HTTPS POST /mutate──> HttpServer "webhook" (TLS, reloaded on rotation)
//                                              └─> webhook::AdmissionHandler
//                                                    │ Cached/Fetch          │ Selects
//                                          KubeServiceAccounts       AnyAssociation
//                                  (SA informer + direct GET)  (PodIdentityAssociation informer,
//                                                                identities file)
//   Prometheus, kubelet probes ──> HttpServer "ops" ─> /metrics /healthz /readyz
//
// The webhook answers from its first request: a ServiceAccount the informer has not delivered yet
// is read from the apiserver directly. /readyz turns true once the informers have listed.
//
// Thread-safety: call once.
#pragma once

#include "podiam/cli/config.hpp"
#include "podiam/cli/webhook_flags.hpp"

namespace podiam::app {

// 0 after a clean shutdown, 1 on a start-up error (logged as one actionable line).
int RunWebhook(const cli::GlobalConfig& global, const cli::WebhookConfig& config);

}  // namespace podiam::app
