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

mode=build
case ${1:-} in
  '') ;;
  --print) mode=print ;;
  --force) mode=force ;;
  *) echo "usage: $0 [--print|--force]" >&2; exit 2 ;;
esac

# The version straight from go.mod, without starting the go command (keeps the warm path fast).
HELM_VERSION=$(awk '{ if ($1 == "require") $1 = ""; $0 = $0 } $1 == "helm.sh/helm/v4" && $2 ~ /^v/ { print $2; exit }' "$HERE/go.mod")
[[ -n $HELM_VERSION ]] || { echo "build.sh: cannot read the helm version from go.mod" >&2; exit 1; }
BIN="$PODIAM_CACHE/helm-$HELM_VERSION/bin"

if [[ $mode == print ]]; then
  [[ -x $BIN/helm ]] || { echo "build.sh: helm not built yet in $BIN" >&2; exit 1; }
  echo "$BIN/helm"; exit 0
fi
if [[ $mode == build && -x $BIN/helm ]]; then
  echo "$BIN/helm"; exit 0
fi

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $GO ]] || { echo "build.sh: no go toolchain (set GO=/path/to/go)" >&2; exit 1; }
# Never fetch another toolchain; 2 cores: at most 2 compile jobs. Static binary, no cgo.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--p=2} -mod=readonly"

# Version stamp as helm's own Makefile sets it (otherwise `helm version` says v4.x-dev and the
# chart's kubeVersion checks see a development build).
v=helm.sh/helm/v4/internal/version
ldflags="-s -w -X $v.version=$HELM_VERSION -X $v.metadata= -X $v.gitTreeState=clean"

mkdir -p "$(dirname "$BIN")"
tmp=$(mktemp -d "$(dirname "$BIN")/bin.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cd "$HERE"
echo "build.sh: building helm $HELM_VERSION with $("$GO" env GOVERSION)" >&2
"$GO" build -trimpath -ldflags="$ldflags" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm
chmod 755 "$tmp"
rm -rf "$BIN"
mv "$tmp" "$BIN"
trap - EXIT
echo "build.sh: built in $(($(date +%s) - start)) s: $BIN/helm" >&2
echo "$BIN/helm"
