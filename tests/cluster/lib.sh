# shellcheck shell=bash
# Helpers shared by tests/cluster/{up,down,ctl}. Sourced, never run.
#
# State-dir layout (all made by `up`):
#   env                   the export lines `up` printed
#   ports                 NAME=PORT lines
#   pki/                  ca.{crt,key}, server.{crt,key}, sa.{key,pub}
#   tokens.csv            static token file (admin in system:masters, kube-controller-manager)
#   admin.kubeconfig, controller-manager.kubeconfig
#   NAME.cmd              the command line of process NAME, one word per line; the first is
#                         the binary's resolved path
#   NAME.pid, NAME.log    its PID and its stdout+stderr; NAME in etcd kube-apiserver kube-controller-manager
#   etcd-data/            etcd's data

cl_log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Processes in start order; stopped in reverse.
# shellcheck disable=SC2034 # used by the scripts that source this file
CL_PROCS=(etcd kube-apiserver kube-controller-manager)

# cl_pid DIR NAME: prints the PID if that process is still the one we started, else fails.
cl_pid() {
  local dir=$1 name=$2 pid exe
  [[ -f $dir/$name.pid ]] || return 1
  pid=$(<"$dir/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Guard against PID reuse: the process must still run the binary we started.
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$(head -n1 "$dir/$name.cmd")" ]] || return 1
  echo "$pid"
}

# cl_start DIR NAME: starts the command in DIR/NAME.cmd in its own session, logs to DIR/NAME.log.
cl_start() {
  local dir=$1 name=$2 pid
  local -a cmd
  mapfile -t cmd <"$dir/$name.cmd"
  # setsid: its own process group, so a Ctrl-C at the test runner does not kill the cluster
  # before the fixtures tear it down. setsid execs without forking here (we are not a group
  # leader), so $! is the server's own PID.
  setsid "${cmd[@]}" >>"$dir/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/$name.pid"
  # Until the fork has exec'd the server, /proc/PID/exe is bash or setsid: wait for that.
  local i
  for ((i = 0; i < 100; i++)); do
    cl_pid "$dir" "$name" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 0 # died at once: cl_wait reports it with the log
    sleep 0.05
  done
}

# cl_stop DIR NAME...: TERM to each, wait up to 10 s for all, then KILL the rest. Only PIDs we
# recorded (and that still run our binary).
cl_stop() {
  local dir=$1 name pid i
  shift
  local -A pids=()
  for name in "$@"; do
    if pid=$(cl_pid "$dir" "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    else
      rm -f "$dir/$name.pid"
    fi
  done
  for ((i = 0; i < 150 && ${#pids[@]}; i++)); do
    ((i == 100)) && for name in "${!pids[@]}"; do
      cl_log "$name (pid ${pids[$name]}) ignored TERM for 10 s; killing"
      kill -KILL "${pids[$name]}" 2>/dev/null || true
    done
    for name in "${!pids[@]}"; do
      if ! kill -0 "${pids[$name]}" 2>/dev/null; then
        unset "pids[$name]"
        rm -f "$dir/$name.pid"
      fi
    done
    ((${#pids[@]})) && sleep 0.1
  done
  ((${#pids[@]} == 0)) || { cl_log "could not stop: ${!pids[*]}"; return 1; }
}

# cl_tail DIR NAME [N]: last N lines of a process log, for error messages.
cl_tail() {
  local dir=$1 name=$2 n=${3:-40}
  echo "----- last $n lines of $dir/$name.log -----" >&2
  tail -n "$n" "$dir/$name.log" >&2 2>/dev/null || true
  echo "-----" >&2
}

# cl_wait DIR NAME TIMEOUT CHECK...: polls CHECK (a command) until it succeeds; fails early,
# showing the log tail, if the process dies; fails on timeout.
cl_wait() {
  local dir=$1 name=$2 timeout=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! cl_pid "$dir" "$name" >/dev/null; then
      cl_log "$name exited during start-up"
      cl_tail "$dir" "$name"
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  cl_log "$name not ready after ${timeout} s"
  cl_tail "$dir" "$name"
  return 1
}

# cl_port DIR NAME: a port recorded in DIR/ports.
cl_port() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1/ports"; }

# cl_apiserver_ready DIR: /readyz answers ok.
cl_apiserver_ready() {
  local dir=$1
  [[ $(curl -sS --max-time 2 --cacert "$dir/pki/ca.crt" \
    -H "Authorization: Bearer $(<"$dir/admin.token")" \
    "https://127.0.0.1:$(cl_port "$dir" apiserver)/readyz") == ok ]]
}
