#include "podiam/cli/vault_flags.hpp"

#include <fmt/format.h>

#include "podiam/cli/command_line.hpp"
#include "podiam/http/message.hpp"
#include "podiam/vault/vault_source.hpp"

namespace podiam::cli {
namespace {

template <typename T>
CLI::Option* Flag(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  auto* opt = app.add_option(name, target, help);
  opt->envname(EnvNameForFlag(name));
  opt->group("Vault");
  return opt;
}

tl::unexpected<Error> Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

void AddVaultFlags(CLI::App& agent, VaultConfig& c) {
  Flag(agent, "--credential-source", c.credential_source,
       "Where pods' credentials come from: sts (AssumeRole with podiam's own credentials) or "
       "vault (Vault's AWS secrets engine)")
      ->check(CLI::IsMember({"sts", "vault"}))
      ->capture_default_str();
  Flag(agent, "--vault-addr", c.addr, "Vault's address, e.g. https://vault.example:8200");
  Flag(agent, "--vault-auth-mount", c.auth_mount, "Mount path of Vault's Kubernetes auth method")
      ->capture_default_str();
  Flag(agent, "--vault-auth-role", c.auth_role,
       "Vault Kubernetes auth role bound to podiam's ServiceAccount");
  Flag(agent, "--vault-aws-mount", c.aws_mount, "Mount path of Vault's AWS secrets engine")
      ->capture_default_str();
  Flag(agent, "--vault-token-file", c.token_file,
       "podiam's own (projected) ServiceAccount token, sent to Vault's Kubernetes auth login")
      ->capture_default_str();
  Flag(agent, "--vault-ca", c.ca_file, "PEM bundle that signs Vault's certificate");
  Flag(agent, "--vault-role-map", c.role_map,
       "ROLE_ARN=VAULT_ROLE: the Vault AWS role for an IAM role (repeatable); unmapped roles "
       "use the role's name");
  Flag(agent, "--vault-credential-type", c.credential_type,
       "assumed_role or federation_token (aws/sts/ROLE), or iam_user (aws/creds/ROLE)")
      ->check(CLI::IsMember({"assumed_role", "federation_token", "iam_user"}))
      ->capture_default_str();
  auto* revoke = agent.add_flag("--vault-revoke-on-shutdown{true}", c.revoke_on_shutdown,
                                "Revoke the Vault leases of iam_user credentials when the agent "
                                "stops (default: leave them to expire)");
  revoke->envname(EnvNameForFlag("--vault-revoke-on-shutdown"));
  revoke->group("Vault");
  revoke->default_str("false");
}

Result<void> CheckVaultFlags(const VaultConfig& c) {
  if (c.credential_source != "vault") {
    if (!c.addr.empty()) {
      return Invalid("--vault-addr is set but --credential-source is not vault");
    }
    return {};
  }
  if (c.addr.empty()) {
    return Invalid("--credential-source vault needs --vault-addr");
  }
  auto url = http::ParseUrl(c.addr);
  if (!url || (!url->target.empty() && url->target != "/")) {
    return Invalid(fmt::format("--vault-addr '{}': want http(s)://HOST[:PORT]", c.addr));
  }
  if (c.auth_role.empty()) {
    return Invalid("--credential-source vault needs --vault-auth-role");
  }
  if (!vault::ValidVaultName(c.auth_role, /*allow_slash=*/false)) {
    return Invalid(fmt::format("--vault-auth-role '{}': not a Vault role name", c.auth_role));
  }
  for (const auto& [flag, mount] : {std::pair{"--vault-auth-mount", &c.auth_mount},
                                    std::pair{"--vault-aws-mount", &c.aws_mount}}) {
    if (!vault::ValidVaultName(*mount, /*allow_slash=*/true)) {
      return Invalid(
          fmt::format("{} '{}': want a mount path such as aws or team/aws", flag, *mount));
    }
  }
  if (c.token_file.empty()) {
    return Invalid("--vault-token-file must not be empty");
  }
  if (!vault::ParseCredentialType(c.credential_type)) {
    return Invalid(
        fmt::format("--vault-credential-type '{}': want assumed_role, "
                    "federation_token or iam_user",
                    c.credential_type));
  }
  if (auto map = vault::ParseRoleMap(c.role_map); !map) {
    return tl::unexpected(map.error());
  }
  return {};
}

}  // namespace podiam::cli
