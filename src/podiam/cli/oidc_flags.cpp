#include "podiam/cli/oidc_flags.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>

#include "podiam/cli/command_line.hpp"
#include "podiam/oidc/discovery.hpp"

namespace podiam::cli {
namespace {

template <typename T>
CLI::Option* Flag(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  return opt;
}

std::string Chosen(CLI::App& app) {
  for (auto* sub : app.get_subcommands()) {
    return sub->get_name();
  }
  return {};
}

bool IsHex40(const std::string& s) {
  if (s.size() != 40) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

void AddOidcFlags(CLI::App& oidc, OidcConfig& c) {
  oidc.require_subcommand(1, 1);
  auto* render = oidc.add_subcommand(
      "render", "Writes DIR/.well-known/openid-configuration and DIR/keys.json for a static host");
  auto* serve = oidc.add_subcommand(
      "serve", "Serves the discovery document and JWKS over HTTPS, reloading changed key files");
  auto* check = oidc.add_subcommand(
      "check", "Fetches an issuer's documents, checks what IAM requires, verifies a token");
  for (auto* sub : {render, serve, check}) {
    Flag(*sub, "--issuer", c.issuer, "Issuer URL: https://HOST[/PATH], equal to the tokens' iss")
        ->required();
  }
  for (auto* sub : {render, serve}) {
    Flag(*sub, "--key", c.keys,
         "ServiceAccount key file (PEM public or private key; repeat for rotation)")
        ->required()
        ->check(CLI::ExistingFile);
    Flag(*sub, "--jwks-uri", c.jwks_uri, "jwks_uri to publish; default ISSUER/keys.json");
  }
  Flag(*render, "--out", c.out, "Directory to write the documents into")->required();
  Flag(*serve, "--listen", c.listen, "Address:port to serve HTTPS on")->capture_default_str();
  Flag(*serve, "--tls-cert-file", c.tls_cert_file, "Serving certificate (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  Flag(*serve, "--tls-key-file", c.tls_key_file, "Serving key (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  Flag(*serve, "--max-age", c.max_age_seconds, "Cache-Control max-age in seconds")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  Flag(*check, "--token", c.token_file, "A ServiceAccount token file to verify")
      ->check(CLI::ExistingFile);
  Flag(*check, "--audience", c.audience, "Audience the token must carry")->capture_default_str();
  Flag(*check, "--ca-file", c.ca_file, "CA bundle to trust when fetching; default system store")
      ->check(CLI::ExistingFile);
  Flag(*check, "--dir", c.dir, "Check files written by `oidc render --out DIR` instead of fetching")
      ->check(CLI::ExistingDirectory);
}

void AddIamFlags(CLI::App& iam, IamConfig& c) {
  iam.require_subcommand(1, 1);
  auto* provider = iam.add_subcommand("create-oidc-provider",
                                      "Creates (or updates) the IAM OIDC provider for an issuer");
  auto* trust = iam.add_subcommand(
      "trust-policy", "Prints the trust policy for a ServiceAccount (or podiam's own role)");
  auto* role = iam.add_subcommand(
      "create-role", "Creates a role a ServiceAccount may assume, attaches policies, annotates");
  for (auto* sub : {provider, trust, role}) {
    Flag(*sub, "--issuer", c.issuer, "Issuer URL: https://HOST[/PATH]");
    Flag(*sub, "--partition", c.partition, "AWS partition: aws, aws-cn, aws-us-gov")
        ->check(CLI::IsMember({"aws", "aws-cn", "aws-us-gov"}))
        ->capture_default_str();
    Flag(*sub, "--account-id", c.account_id,
         "12-digit AWS account; default: asked from STS GetCallerIdentity");
    Flag(*sub, "--iam-endpoint", c.iam_endpoint, "IAM endpoint URL override");
    Flag(*sub, "--sts-endpoint", c.sts_endpoint, "STS endpoint URL override");
    Flag(*sub, "--region", c.region, "Region for STS; default AWS_REGION or us-east-1");
  }
  for (auto* sub : {provider, trust}) {
    Flag(*sub, "--audience", c.audiences, "Client ID / token audience (repeatable)");
  }
  Flag(*role, "--audience", c.audiences, "Token audience in the trust policy");
  Flag(*provider, "--thumbprint", c.thumbprint,
       "auto (SHA-1 of the issuer's top CA certificate), none, or 40 hex digits")
      ->capture_default_str();
  Flag(*provider, "--tls-address", c.tls_address,
       "For auto: read the TLS chain from ADDRESS:PORT instead of the issuer host's port 443");
  for (auto* sub : {trust, role}) {
    Flag(*sub, "--service-account", c.service_account, "NAMESPACE/NAME");
  }
  Flag(*trust, "--principal", c.principal,
       "Instead: the role ARN podiam's agent runs as (IMDS/container-credentials paths)");
  Flag(*role, "--name", c.role_name, "Role name")->required();
  Flag(*role, "--path", c.role_path, "Role path")->capture_default_str();
  Flag(*role, "--policy-arn", c.policy_arns, "Managed policy to attach (repeatable)");
  auto* annotate = role->add_flag("--annotate{true}", c.annotate,
                                  "Set eks.amazonaws.com/role-arn on the ServiceAccount");
  annotate->envname(EnvNameForFlag("--annotate"));
  Flag(*role, "--kubeconfig", c.kubeconfig, "kubeconfig for --annotate; default $KUBECONFIG");
}

std::optional<std::string> FinishOidcFlags(CLI::App& oidc, OidcConfig& c) {
  c.action = Chosen(oidc);
  if (!c.issuer.starts_with("https://")) {
    return "oidc " + c.action + ": --issuer must be an https:// URL";
  }
  // `check` reports a bad issuer as one of its findings; render and serve refuse it.
  if (auto issuer = oidc::ParseIssuer(c.issuer); !issuer && c.action != "check") {
    return "oidc " + c.action + ": " + issuer.error().message();
  }
  return std::nullopt;
}

std::optional<std::string> FinishIamFlags(CLI::App& iam, IamConfig& c) {
  c.action = Chosen(iam);
  if (c.audiences.empty()) {
    c.audiences = {"sts.amazonaws.com"};
  }
  if (!c.account_id.empty() &&
      (c.account_id.size() != 12 || !std::all_of(c.account_id.begin(), c.account_id.end(),
                                                 [](char ch) { return ch >= '0' && ch <= '9'; }))) {
    return "iam " + c.action + ": --account-id must be 12 digits";
  }
  bool wants_issuer = c.action != "trust-policy" || c.principal.empty();
  if (wants_issuer && !c.issuer.starts_with("https://")) {
    return "iam " + c.action + ": --issuer https://HOST[/PATH] is required";
  }
  if (auto issuer = oidc::ParseIssuer(c.issuer); wants_issuer && !issuer) {
    return "iam " + c.action + ": " + issuer.error().message();
  }
  if (c.action == "create-oidc-provider" && c.thumbprint != "auto" && c.thumbprint != "none" &&
      !IsHex40(c.thumbprint)) {
    return "iam create-oidc-provider: --thumbprint must be auto, none or 40 hex digits";
  }
  if (c.action != "create-oidc-provider" && c.principal.empty()) {
    auto slash = c.service_account.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == c.service_account.size() ||
        c.service_account.find('/', slash + 1) != std::string::npos) {
      return "iam " + c.action + ": --service-account NAMESPACE/NAME is required";
    }
  }
  if (c.action == "trust-policy" && !c.principal.empty() && !c.service_account.empty()) {
    return "iam trust-policy: give --service-account or --principal, not both";
  }
  return std::nullopt;
}

}  // namespace podiam::cli
