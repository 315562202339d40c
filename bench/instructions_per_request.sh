#!/usr/bin/env bash
# Instructions per request of the credential handlers' cached paths (bench/containercreds_bench.cpp)
# under callgrind: deterministic, so meaningful on a busy machine. Counts what runs inside
# Handle() (the response callback included), divided by the number of Handle() calls, and lists
# the functions below Handle() costing most (inclusive, per request).
#
#   bench/instructions_per_request.sh [BUILD_DIR] [TOP]   (default build-bench, a Release tree; 25)
#   KEEP=1 bench/instructions_per_request.sh             # keep the callgrind files (for kcachegrind)
#
# Needs valgrind with callgrind_annotate (a developer tool: apt-get install valgrind) and python3;
# not a CI dependency. About a minute.
set -euo pipefail
build=${1:-build-bench}
top=${2:-25}
bin="$build/bench/podiam_bench_containercreds"
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [[ -n ${KEEP:-} ]]; then
  trap - EXIT
  echo "keeping $out"
fi
for bench in ContainerCredentials ImdsCredentials; do
  case $bench in
    ContainerCredentials) fn='podiam::containercreds::ContainerCredentialsHandler::Handle(' ;;
    ImdsCredentials) fn='podiam::metadata::ImdsHandler::Handle(' ;;
  esac
  # The warm-up inside Node() (the first review, the IMDSv2 token) goes to a first dump, $bench.out.1.
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$fn*" \
    --dump-after='podiam::(anonymous namespace)::Node::Node()' \
    --callgrind-out-file="$out/$bench.out" "$bin" \
    --benchmark_filter="BM_${bench}Cached/real_time/threads:1\$" \
    --benchmark_min_time=0.5 >/dev/null 2>"$out/$bench.log"
  callgrind_annotate --inclusive=yes --threshold=100 "$out/$bench.out" >"$out/$bench.txt" 2>/dev/null
  python3 - "$out/$bench.out" "$out/$bench.txt" "$bench" "$fn" "$top" <<'PY'
import re, sys
raw, text, name, fn, top = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
# Call arcs Run() -> Handle(): "calls=N ..." then "<position> <inclusive Ir>".
names, calls, total, fn_now, cfn, arc = {}, 0, 0, '', None, False
for line in open(raw):
    m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?', line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3).strip()
        if m.group(1) == 'fn':
            fn_now = names.get(m.group(2), '')
        else:
            cfn = names.get(m.group(2), '')
        continue
    m = re.match(r'calls=(\d+)', line)
    if m:
        arc = cfn.startswith(fn) and 'Run(' in fn_now
        if arc:
            calls += int(m.group(1))
        continue
    if arc:
        total += int(line.split()[1])
        arc = False
rows = []
for line in open(text):
    m = re.match(r'\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:(.*) \[', line)
    if m:
        rows.append((int(m.group(1).replace(',', '')), m.group(2)))
print(f"{name}: {total / calls:,.0f} instructions per request ({calls} requests)")
below = False
shown = 0
for ir, f in rows:
    if f.startswith(fn):
        below = True
        continue
    if below and shown < top and 'Run(' not in f:
        short = re.sub(r'nlohmann::json_abi\S*?::', 'nlohmann::', f)
        short = re.sub(r'<.*>', '<…>', short) if len(short) > 110 else short
        print(f"  {ir / calls:>10,.0f}  {short[:140]}")
        shown += 1
PY
done
