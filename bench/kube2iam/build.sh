#!/usr/bin/env bash
# Builds the kube2iam benchmark peer from its Go module, pinned in bench/kube2iam/go.mod, into
# $PODIAM_CACHE/kube2iam-<version>/kube2iam and prints that path. Skipped when the binary exists.
# Exits non-zero with a one-line reason (last line of stderr) when it cannot be built, e.g. when
# the Go module proxy does not serve the module.
#
# Pointing kube2iam's STS calls at moto: kube2iam uses aws-sdk-go v1 (v1.38.55 in its go.mod).
# No aws-sdk-go v1 release reads AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL (checked up to
# v1.55.7, the last v1 release: the variables appear nowhere in its source), so requiring a newer
# v1 does not help. A run against moto needs HTTPS_PROXY to a TLS-terminating relay for
# sts.amazonaws.com with AWS_CA_BUNDLE naming its CA; see bench/kube2iam/README.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
export PATH=/usr/local/go/bin:$PATH
version=$(sed -n 's/^require github.com\/jtblin\/kube2iam \(v[^ ]*\)$/\1/p' "$HERE/go.mod")
out=$PODIAM_CACHE/kube2iam-$version
if [[ -x $out/kube2iam ]]; then
  echo "$out/kube2iam"
  exit 0
fi
command -v go >/dev/null || die "kube2iam: go not installed (scripts/setup installs it)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$HERE/go.mod" "$HERE/tools.go" "$work/"
cd "$work"
if ! err=$(GOFLAGS=-mod=mod go mod download github.com/jtblin/kube2iam 2>&1); then
  reason=$(grep -o '[0-9][0-9][0-9] [A-Za-z ]*' <<<"$err" | head -1)
  die "github.com/jtblin/kube2iam@$version is not served by the Go module proxy here (${reason:-$err})"
fi
GOFLAGS=-mod=mod go mod tidy >&2
mkdir -p "$out"
CGO_ENABLED=0 go build -trimpath -o "$out/kube2iam.tmp" github.com/jtblin/kube2iam >&2
mv "$out/kube2iam.tmp" "$out/kube2iam"
go version >"$out/go-version"
echo "$out/kube2iam"
