#!/usr/bin/env bash
# Builds the vault server from the github.com/hashicorp/vault version pinned in go.mod into
#   $PODIAM_CACHE/vault-<version>/bin/vault
# and prints that path. Does nothing (well under a second) when the binary exists.
#   tests/vault/build.sh            build if missing, print the binary's path
#   tests/vault/build.sh --print    only print the path (exit 1 if not built yet)
#   tests/vault/build.sh --force    rebuild
# Environment: PODIAM_CACHE, GO (go binary), and the usual GOMODCACHE/GOCACHE/GOFLAGS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PODIAM_CACHE=${PODIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podiam}
# shellcheck source=../../scripts/lib/go_tool.sh
source "$HERE/../../scripts/lib/go_tool.sh"

VAULT_VERSION=$(go_mod_version "$HERE/go.mod" github.com/hashicorp/vault)
[[ -n $VAULT_VERSION ]] || { echo "build.sh: cannot read the vault version from go.mod" >&2; exit 1; }
BIN="$PODIAM_CACHE/vault-$VAULT_VERSION/bin"
BINARIES=(vault)
PRINT="$BIN/vault"
LABEL="vault $VAULT_VERSION"

go_tool_build() {
  # The version is embedded from the module's version/VERSION file; no stamp needed.
  "$GO" build -trimpath -ldflags="-s -w" -o "$1/vault" github.com/hashicorp/vault
}

go_tool_main "$@"
