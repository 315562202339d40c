# shellcheck shell=bash
# Helm, built from the helm.sh/helm/v4 version pinned in tests/helm/tool/go.mod into
# $PODIAM_CACHE/helm-<ver>/bin/helm, for the chart tests (tests/helm/, docs/helm.md).
# Sourced by scripts/setup. Only builds when the binary is missing (cold: ~3.5 min of CPU on 2 cores).

if helm_bin=$("$ROOT/tests/helm/tool/build.sh" --print 2>/dev/null); then
  log "helm: present ($helm_bin)"
else
  log "helm: building from its Go module (cold: several minutes)"
  helm_bin=$("$ROOT/tests/helm/tool/build.sh")
  log "helm: built $helm_bin"
fi
unset helm_bin
