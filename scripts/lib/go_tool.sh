# shellcheck shell=bash
# The shared skeleton of the scripts that build a test tool from a Go module pinned in a go.mod
# (tests/cluster/build.sh, tests/helm/tool/build.sh, ...) into the cache, once per version.
#
# A build script sets, then calls go_tool_main "$@":
#   HERE       the directory of its go.mod (the build runs there)
#   BIN        the cache directory that receives the binaries (versioned, under $PODIAM_CACHE)
#   BINARIES   the file names that must all exist in BIN for "built"
#   PRINT      what to print when built (BIN itself, or one binary's path)
#   LABEL      what is built, for the log line ("helm v4.3.2")
#   go_tool_build DIR   a function that builds every binary into DIR with "$GO"
# Modes: no argument builds when missing and prints PRINT; --print only prints (exit 1 if not
# built); --force rebuilds. GO, GOFLAGS, GOMODCACHE and GOCACHE are honoured.

# The version of MODULE in GO_MOD, without starting the go command (keeps the warm path fast);
# understands both the block form and a one-line `require MODULE vX`.
go_mod_version() {
  awk -v m="$2" '{ if ($1 == "require") $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}

go_tool_main() {
  local mode=build
  case ${1:-} in
    '') ;;
    --print) mode=print ;;
    --force) mode=force ;;
    *) echo "usage: $0 [--print|--force]" >&2; exit 2 ;;
  esac
  local name b built=1
  name=$(basename "$0")
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || built=0; done
  if [[ $mode == print ]]; then
    ((built)) || { echo "$name: not built yet in $BIN" >&2; exit 1; }
    echo "$PRINT"; exit 0
  fi
  if [[ $mode == build ]] && ((built)); then
    echo "$PRINT"; exit 0
  fi

  GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  [[ -x $GO ]] || { echo "$name: no go toolchain (set GO=/path/to/go)" >&2; exit 1; }
  # Never fetch another toolchain; 2 cores: at most 2 compile jobs. Static binaries, no cgo.
  export GO GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--p=2} -mod=readonly"

  mkdir -p "$(dirname "$BIN")"
  local tmp start
  tmp=$(mktemp -d "$(dirname "$BIN")/bin.tmp.XXXXXX")
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  start=$(date +%s)
  cd "$HERE"
  echo "$name: building $LABEL with $("$GO" env GOVERSION) (takes a while when cold)" >&2
  go_tool_build "$tmp"
  chmod 755 "$tmp"
  rm -rf "$BIN"
  mv "$tmp" "$BIN"
  trap - EXIT
  echo "$name: built in $(($(date +%s) - start)) s: $BIN" >&2
  echo "$PRINT"
}
