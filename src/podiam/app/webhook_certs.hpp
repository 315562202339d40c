// `podiam webhook certs`: issues a private CA and a serving certificate for the webhook's Service
// (pki/serving_cert.hpp), writes tls.crt, tls.key (0600) and ca.crt to --out, and prints the
// caBundle (base64 of ca.crt) on stdout, or writes it into --manifest (pki/ca_bundle.hpp).
// Existing files are left alone unless --force. docs/webhook.md, "Serving certificate".
//
// Thread-safety: call once.
#pragma once

#include "podiam/cli/webhook_certs_flags.hpp"

namespace podiam::app {

// 0 when everything was written; 1 with one line on stderr otherwise.
int RunWebhookCerts(const cli::WebhookCertsConfig& config);

}  // namespace podiam::app
