// Where `podiam agent` gets pods' credentials (--credential-source) and, for Vault, how it
// reaches Vault (docs/vault.md), as the flags in vault_flags.hpp set them. Kept apart from the
// flags so that config.hpp does not pull in CLI11.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

namespace podiam::cli {

struct VaultConfig {
  // --credential-source: "sts" (AssumeRole with podiam's own credentials) or "vault".
  std::string credential_source = "sts";
  // --vault-addr: "https://vault.example:8200".
  std::string addr;
  // --vault-auth-mount: the Kubernetes auth method's mount path.
  std::string auth_mount = "kubernetes";
  // --vault-auth-role: the Kubernetes auth role bound to podiam's ServiceAccount.
  std::string auth_role;
  // --vault-aws-mount: the AWS secrets engine's mount path.
  std::string aws_mount = "aws";
  // --vault-token-file: podiam's own (projected) ServiceAccount token, read at each login.
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // --vault-ca: PEM bundle that signs Vault's certificate; empty: the system store.
  std::string ca_file;
  // --vault-role-map ARN=NAME (repeatable): Vault AWS role for an IAM role; else the role's name.
  std::vector<std::string> role_map;
  // --vault-credential-type: assumed_role, federation_token (aws/sts) or iam_user (aws/creds).
  std::string credential_type = "assumed_role";
  // --vault-revoke-on-shutdown: revoke the leases of iam_user credentials when the agent stops.
  bool revoke_on_shutdown = false;
};

}  // namespace podiam::cli
