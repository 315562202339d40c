#!/usr/bin/env bash
# HTTP server vs nginx: podiam's transport::HttpServer (podiam_http_testserver_tool,
# Release build) serving a fixed body of BODY_BYTES bytes, against nginx serving a static file of
# the same size, both on loopback, each driven by the same wrk command. Prints a markdown section
# (machine, versions, command, results table) for docs/benchmarks.md.
#
#   bench/http_vs_nginx.sh                      # builds build-release/ if needed
#   BODY_BYTES=1200 DURATION=10s CONNECTIONS=64 bench/http_vs_nginx.sh
#
# Two pairings: podiam with as many I/O threads as CPUs vs nginx `worker_processes auto`, and
# podiam with 1 thread vs nginx with 1 worker. wrk runs on the same machine and competes for the
# same cores, equally for both servers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
BODY_BYTES=${BODY_BYTES:-1200}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
WARMUP=${WARMUP:-2s}
# The fixed-rate run: RATE_CONNECTIONS connections, each sending a request every
# RATE_DELAY_MS (wrk's Lua delay()), i.e. about RATE_CONNECTIONS * 1000 / RATE_DELAY_MS req/s.
RATE_CONNECTIONS=${RATE_CONNECTIONS:-50}
RATE_DELAY_MS=${RATE_DELAY_MS:-10}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

for tool in wrk "$NGINX" cmake ninja python3; do
  command -v "$tool" >/dev/null || { echo "http_vs_nginx: $tool not found" >&2; exit 1; }
done

if [[ ! -x $BUILD_DIR/src/podiam/transport/podiam_http_testserver_tool ]]; then
  # WERROR off: GCC 12 at -O3 raises false -Wrestrict positives on std::string (GCC PR105329).
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODIAM_BENCH=OFF \
    -DPODIAM_WERROR=OFF >&2
fi
ninja -C "$BUILD_DIR" podiam_http_testserver_tool >&2
SERVER=$BUILD_DIR/src/podiam/transport/podiam_http_testserver_tool

TMP=$(mktemp -d /tmp/podiam-bench-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The same bytes for both servers.
python3 - "$BODY_BYTES" "$TMP/www/body.json" <<'EOF'
import os, sys
size, path = int(sys.argv[1]), sys.argv[2]
os.makedirs(os.path.dirname(path), exist_ok=True)
head, tail = '{"Code":"Success","Padding":"', '"}\n'
body = head + "p" * (size - len(head) - len(tail)) + tail if size >= len(head) + len(tail) else "x" * size
open(path, "w").write(body)
EOF
chmod -R a+rX "$TMP"  # nginx workers may run as nobody

start_podiam() {  # threads -> sets URL, PID
  local threads=$1
  "$SERVER" --port 0 --threads "$threads" --body-bytes "$BODY_BYTES" >"$TMP/podiam.out" \
    2>"$TMP/podiam.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do
    grep -q '^PORT=' "$TMP/podiam.out" 2>/dev/null && break
    sleep 0.05
  done
  URL="http://127.0.0.1:$(sed -n 's/^PORT=//p' "$TMP/podiam.out")/body.json"
}

start_nginx() {  # worker_processes -> sets URL, PID
  local workers=$1 port
  port=$(free_port)
  mkdir -p "$TMP/nginx"
  cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  default_type application/json;
  keepalive_requests 100000000;  # podiam never closes a busy keep-alive connection either
  keepalive_timeout 60s;
  open_file_cache max=16 inactive=60s;  # nginx's best case: no open()/fstat() per request
  open_file_cache_valid 60s;
  server {
    listen 127.0.0.1:$port;
    location / { root $TMP/www; }
  }
}
EOF
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/body.json" && break
    sleep 0.05
  done
  URL="http://127.0.0.1:$port/body.json"
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

# wrk output -> "rps p50_ms p99_ms errors"
measure() {  # url [extra wrk args...]
  local url=$1 out
  shift
  curl -fs -o /dev/null "$url" || { echo "http_vs_nginx: $url not serving" >&2; exit 1; }
  local size
  size=$(curl -fs "$url" | wc -c)
  [[ $size == "$BODY_BYTES" ]] || { echo "http_vs_nginx: $url serves $size bytes" >&2; exit 1; }
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" >/dev/null
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  python3 - "$out" <<'EOF'
import re, sys
out = sys.argv[1]
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors += int(non2xx.group(1)) if non2xx else 0
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errors}")
EOF
}

echo "function delay() return $RATE_DELAY_MS end" >"$TMP/rate.lua"
RATE_ARGS=(-c"$RATE_CONNECTIONS" -s "$TMP/rate.lua")

CPUS=$(nproc)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A RESULT
for pairing in "all:$CPUS:auto" "one:1:1"; do
  IFS=: read -r name threads workers <<<"$pairing"
  start_podiam "$threads"
  RESULT[$name,podiam]=$(measure "$URL")
  [[ $name == all ]] && RESULT[rate,podiam]=$(measure "$URL" "${RATE_ARGS[@]}")
  stop
  start_nginx "$workers"
  RESULT[$name,nginx]=$(measure "$URL")
  [[ $name == all ]] && RESULT[rate,nginx]=$(measure "$URL" "${RATE_ARGS[@]}")
  stop
done

cpu_model=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
cat <<EOF
## HTTP server vs nginx

Command: \`bench/http_vs_nginx.sh\` (BODY_BYTES=$BODY_BYTES; each server measured with
\`wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency\` after a $WARMUP warm-up, on loopback).

- Machine: $CPUS CPUs, $cpu_model, $(uname -sr)
- Versions: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'),
  $(c++ --version | head -1), Boost $(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp)
- podiam: \`podiam_http_testserver_tool\` (Release), fixed $BODY_BYTES-byte JSON body, metrics on.
- nginx: static file of the same size, \`access_log off\`, \`open_file_cache\`,
  \`keepalive_requests\` unlimited.
- Load average at the start: $LOAD (the machine may be shared; rerun when it is quiet).
- "rate" rows: the all-CPU servers at a fixed ~$((RATE_CONNECTIONS * 1000 / RATE_DELAY_MS)) req/s
  (\`-c$RATE_CONNECTIONS\`, each connection waits $RATE_DELAY_MS ms between requests with wrk's
  Lua \`delay()\`); requests/s there is what wrk achieved.

| pairing | server | requests/s | p50 ms | p99 ms | errors | podiam / nginx |
|---|---|---:|---:|---:|---:|---:|
EOF
for pairing in "all:podiam $CPUS threads:nginx workers auto" "one:podiam 1 thread:nginx 1 worker" \
  "rate:podiam $CPUS threads:nginx workers auto"; do
  IFS=: read -r name plabel nlabel <<<"$pairing"
  read -r prps pp50 pp99 perr <<<"${RESULT[$name,podiam]}"
  read -r nrps np50 np99 nerr <<<"${RESULT[$name,nginx]}"
  ratio=$(python3 -c "print(f'{$prps / $nrps:.2f}×')")
  [[ $name == rate ]] && ratio="n/a"
  echo "| $name | $plabel | $prps | $pp50 | $pp99 | $perr | $ratio |"
  echo "| $name | $nlabel | $nrps | $np50 | $np99 | $nerr | |"
done
