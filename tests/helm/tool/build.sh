#!/usr/bin/env bash
# Builds the helm command from the helm.sh/helm/v4 version pinned in go.mod into
#   $PODIAM_CACHE/helm-<version>/bin/helm
# and prints that path. Does nothing (well under a second) when the binary exists.
#   tests/helm/tool/build.sh            build if missing, print the binary's path
#   tests/helm/tool/build.sh --print    only print the path (exit 1 if not built yet)
#   tests/helm/tool/build.sh --force    rebuild
# Environment: PODIAM_CACHE, GO (go binary), and the usual GOMODCACHE/GOCACHE/GOFLAGS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PODIAM_CACHE=${PODIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podiam}
# shellcheck source=../../../scripts/lib/go_tool.sh
source "$HERE/../../../scripts/lib/go_tool.sh"

HELM_VERSION=$(go_mod_version "$HERE/go.mod" helm.sh/helm/v4)
[[ -n $HELM_VERSION ]] || { echo "build.sh: cannot read the helm version from go.mod" >&2; exit 1; }
BIN="$PODIAM_CACHE/helm-$HELM_VERSION/bin"
BINARIES=(helm)
PRINT="$BIN/helm"
LABEL="helm $HELM_VERSION"

go_tool_build() {
  # Version stamp as helm's own Makefile sets it (otherwise `helm version` says v4.x-dev and the
  # chart's kubeVersion checks see a development build).
  local v=helm.sh/helm/v4/internal/version
  "$GO" build -trimpath -ldflags="-s -w -X $v.version=$HELM_VERSION -X $v.metadata= -X $v.gitTreeState=clean" \
    -o "$1/helm" helm.sh/helm/v4/cmd/helm
}

go_tool_main "$@"
