#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the versions pinned in go.mod into
#   $PODIAM_CACHE/k8s-<k8s version>-etcd-<etcd version>/bin/
# and prints that directory. Does nothing (well under a second) when all three binaries exist.
#   tests/cluster/build.sh            build if missing, print the bin dir
#   tests/cluster/build.sh --print    only print the bin dir (exit 1 if not built yet)
#   tests/cluster/build.sh --force    rebuild
# Environment: PODIAM_CACHE, GO (go binary), and the usual GOMODCACHE/GOCACHE/GOFLAGS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PODIAM_CACHE=${PODIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podiam}
# shellcheck source=../../scripts/lib/go_tool.sh
source "$HERE/../../scripts/lib/go_tool.sh"

K8S_VERSION=$(go_mod_version "$HERE/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(go_mod_version "$HERE/go.mod" go.etcd.io/etcd/server/v3)
[[ -n $K8S_VERSION && -n $ETCD_VERSION ]] || { echo "build.sh: cannot read versions from go.mod" >&2; exit 1; }
BIN="$PODIAM_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager)
PRINT="$BIN"
LABEL="kubernetes $K8S_VERSION and etcd $ETCD_VERSION"

go_tool_build() {
  # Version stamps as the Kubernetes release build sets them (otherwise /version says
  # v0.0.0-master).
  local minor=${K8S_VERSION#v1.} x="" pkg ldflags
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  ldflags="-s -w$x"
  "$GO" build -trimpath -ldflags="$ldflags" -o "$1/etcd" go.etcd.io/etcd/server/v3
  "$GO" build -trimpath -ldflags="$ldflags" -o "$1/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  "$GO" build -trimpath -ldflags="$ldflags" -o "$1/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
}

go_tool_main "$@"
