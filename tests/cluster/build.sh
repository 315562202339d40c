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

mode=build
case ${1:-} in
  '') ;;
  --print) mode=print ;;
  --force) mode=force ;;
  *) echo "usage: $0 [--print|--force]" >&2; exit 2 ;;
esac

# Versions straight from go.mod, without starting the go command (keeps the warm path fast).
modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$HERE/go.mod"; }
K8S_VERSION=$(modver k8s.io/kubernetes)
ETCD_VERSION=$(modver go.etcd.io/etcd/server/v3)
[[ -n $K8S_VERSION && -n $ETCD_VERSION ]] || { echo "build.sh: cannot read versions from go.mod" >&2; exit 1; }
BIN="$PODIAM_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager)

built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || return 1; done
}

if [[ $mode == print ]]; then
  built || { echo "build.sh: binaries not built yet in $BIN" >&2; exit 1; }
  echo "$BIN"; exit 0
fi
if [[ $mode == build ]] && built; then
  echo "$BIN"; exit 0
fi

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $GO ]] || { echo "build.sh: no go toolchain (set GO=/path/to/go)" >&2; exit 1; }
# Never fetch another toolchain; 2 cores: at most 2 compile jobs. Static binaries, no cgo.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--p=2} -mod=readonly"

# Version stamps as the Kubernetes release build sets them (otherwise /version says v0.0.0-master).
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
x=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  x+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
ldflags="-s -w$x"

mkdir -p "$(dirname "$BIN")"
tmp=$(mktemp -d "$(dirname "$BIN")/bin.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cd "$HERE"
echo "build.sh: building kubernetes $K8S_VERSION and etcd $ETCD_VERSION with $("$GO" env GOVERSION) (takes a while when cold)" >&2
"$GO" build -trimpath -ldflags="$ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
"$GO" build -trimpath -ldflags="$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
"$GO" build -trimpath -ldflags="$ldflags" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
chmod 755 "$tmp"
rm -rf "$BIN"
mv "$tmp" "$BIN"
trap - EXIT
echo "build.sh: built in $(($(date +%s) - start)) s: $BIN" >&2
echo "$BIN"
