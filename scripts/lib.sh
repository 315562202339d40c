# shellcheck shell=bash
# Shared helpers for podiam's scripts.
log() { printf '[podiam %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# Where podiam keeps caches that outlive a clone (built control-plane binaries, venv, npm).
PODIAM_CACHE=${PODIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podiam}
export PODIAM_CACHE
