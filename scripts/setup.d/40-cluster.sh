# shellcheck shell=bash
# Test control plane: etcd, kube-apiserver and kube-controller-manager built from the Go modules
# pinned in tests/cluster/go.mod into $PODIAM_CACHE/k8s-<ver>-etcd-<ver>/bin.
# Sourced by scripts/setup. Only builds when a binary is missing (~6 min cold on 2 cores).

if cluster_bin=$("$ROOT/tests/cluster/build.sh" --print 2>/dev/null); then
  log "cluster: binaries present ($cluster_bin)"
else
  log "cluster: building etcd, kube-apiserver, kube-controller-manager (cold: ~6 min, ~3.6 GB incl. Go caches)"
  cluster_bin=$("$ROOT/tests/cluster/build.sh")
  log "cluster: built $cluster_bin"
fi
unset cluster_bin
