# shellcheck shell=bash
# AWS SDK for JavaScript v3 (credential providers + STS client) for tests/js, from the committed
# package-lock.json. Sourced by scripts/setup. Idempotent: `npm ci` runs only when node_modules is
# missing or package.json / package-lock.json changed since the last install.

js=$ROOT/tests/js
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  die "node: node and npm (Node.js >= 20) are needed for tests/js; the machine image provides them"
fi
want=$(cat "$js/package.json" "$js/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp=$js/node_modules/.podiam-lock.sha256

# The stamp alone is not enough: an interrupted install can leave it next to a partial tree.
if [[ -f $stamp && $(<"$stamp") == "$want" && -f $js/node_modules/@aws-sdk/client-sts/package.json &&
      -f $js/node_modules/@aws-sdk/credential-providers/package.json ]]; then
  log "node: tests/js/node_modules up to date"
else
  log "node: npm ci in tests/js"
  rm -f "$stamp"
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  printf '%s\n' "$want" >"$stamp"
fi
unset js want stamp
