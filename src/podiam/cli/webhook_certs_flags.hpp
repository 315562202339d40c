// `podiam webhook certs`: the flags of the serving-certificate helper (docs/webhook.md,
// "Serving certificate"). A subcommand of `webhook`, so `podiam webhook` itself keeps the
// reference's flags unchanged.
//
// Thread-safety: as ParseCommandLine (once, from main).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace podiam::cli {

struct WebhookCertsConfig {
  bool requested = false;  // `podiam webhook certs` was given (set by webhook_command.cpp)
  std::string service_name = "podiam-webhook";    // --service-name
  std::string namespace_name = "podiam-webhook";  // --namespace
  std::string out;                                // --out DIR (required)
  bool force = false;                             // --force: overwrite existing files
  int days = 365;                                 // --days: validity of the CA and certificate
  std::string manifest;  // --manifest FILE: write the caBundle into it instead of printing it
};

// Registers the flags on the `certs` subcommand of `webhook`; bad values are usage errors.
void AddWebhookCertsFlags(CLI::App& certs, WebhookCertsConfig& config);

}  // namespace podiam::cli
