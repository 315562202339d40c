# shellcheck shell=bash
# Vault, built from the github.com/hashicorp/vault version pinned in tests/vault/go.mod into
# $PODIAM_CACHE/vault-<ver>/bin/vault, for the Vault credential-source tests
# (tests/e2e/test_vault.py, docs/vault.md). Sourced by scripts/setup. Only builds when the binary
# is missing (cold: a large module graph; many minutes of CPU on 2 cores).

if vault_bin=$("$ROOT/tests/vault/build.sh" --print 2>/dev/null); then
  log "vault: present ($vault_bin)"
else
  log "vault: building from its Go module (cold: many minutes)"
  vault_bin=$("$ROOT/tests/vault/build.sh")
  log "vault: built $vault_bin"
fi
unset vault_bin
