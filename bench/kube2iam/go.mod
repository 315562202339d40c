// Build module for the kube2iam benchmark peer (bench/kube2iam/build.sh). It only pins the
// version; the binary is built from the module cache into $PODIAM_CACHE, never into the repo.
module podiam.local/bench/kube2iam

go 1.22

require github.com/jtblin/kube2iam v0.11.2
