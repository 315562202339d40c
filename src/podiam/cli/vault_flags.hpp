// The flags choosing `podiam agent`'s credential source and configuring Vault (docs/vault.md),
// setting VaultConfig. Every flag can also be set as PODIAM_<FLAG>.
//
// Thread-safety: called once while parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "podiam/base/error.hpp"
#include "podiam/cli/vault_config.hpp"

namespace podiam::cli {

// --credential-source, --vault-addr, --vault-auth-mount, --vault-auth-role, --vault-aws-mount,
// --vault-token-file, --vault-ca, --vault-role-map, --vault-credential-type,
// --vault-revoke-on-shutdown.
void AddVaultFlags(CLI::App& agent, VaultConfig& c);

// With --credential-source vault: --vault-addr (an http(s) URL) and --vault-auth-role are
// required, mounts are path-safe names, --vault-role-map entries parse, --vault-credential-type
// is known. With sts: no --vault-addr (a likely mistake). kInvalidArgument naming the flag.
Result<void> CheckVaultFlags(const VaultConfig& c);

}  // namespace podiam::cli
