// Flags of `podiam oidc render|serve|check` and `podiam iam
// create-oidc-provider|trust-policy|create-role` (docs/oidc.md, docs/irsa-self-hosted.md).
// Syntax is checked at parse time (exit code 2, one line on stderr); app/ checks the rest.
//
// Thread-safety: call from the command-line parser only.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace podiam::cli {

struct OidcConfig {
  std::string action;             // render | serve | check
  std::string issuer;             // --issuer https://HOST[/PATH]
  std::vector<std::string> keys;  // --key (repeatable): PEM public or private key files
  std::string jwks_uri;           // --jwks-uri; default ISSUER/keys.json
  std::string out;                // render: --out DIR
  // serve
  std::string listen = "0.0.0.0:8443";
  std::string tls_cert_file;
  std::string tls_key_file;
  int max_age_seconds = 300;
  // check
  std::string token_file;  // --token FILE
  std::string audience = "sts.amazonaws.com";
  std::string ca_file;  // --ca-file: trust for fetching the documents
  std::string dir;      // --dir: read rendered files instead of fetching
};

struct IamConfig {
  std::string action;  // create-oidc-provider | trust-policy | create-role
  std::string issuer;
  std::vector<std::string> audiences;  // --audience (repeatable); default sts.amazonaws.com
  std::string thumbprint = "auto";     // --thumbprint auto | none | 40 hex digits
  std::string tls_address;             // --tls-address HOST:PORT to read the chain from
  std::string service_account;         // --service-account NS/NAME
  std::string role_name;               // --name
  std::string role_path = "/";         // --path
  std::vector<std::string> policy_arns;
  bool annotate = false;
  std::string kubeconfig;
  std::string account_id;  // --account-id; default: STS GetCallerIdentity
  std::string partition = "aws";
  std::string region;        // signing region for STS; IAM is always us-east-1 in aws
  std::string iam_endpoint;  // --iam-endpoint URL override (tests, VPC endpoints)
  std::string sts_endpoint;  // --sts-endpoint URL override
  std::string principal;     // trust-policy --principal ARN: podiam's own role (IMDS paths)
};

// Registers the subcommand's own subcommands and flags on `oidc` / `iam`.
void AddOidcFlags(CLI::App& oidc, OidcConfig& config);
void AddIamFlags(CLI::App& iam, IamConfig& config);

// After parsing: the chosen action and cross-flag rules. An error message (one line, no
// "podiam:" prefix) for usage errors.
std::optional<std::string> FinishOidcFlags(CLI::App& oidc, OidcConfig& config);
std::optional<std::string> FinishIamFlags(CLI::App& iam, IamConfig& config);

}  // namespace podiam::cli
