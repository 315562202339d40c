# shellcheck shell=bash
# Debian packages: toolchain, C++ libraries, network tools, benchmark peers.
# Sourced by scripts/setup. Idempotent: only installs what is missing.

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev libpugixml-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev libcli11-dev libexpected-dev libre2-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang clang-format clang-tidy libclang-rt-14-dev
  iproute2 iptables procps psmisc lsof
  nginx-light wrk prometheus
  python3-venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Never start services from package scripts (nginx, prometheus): tests start what they need.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  if ((created_policy)); then  # not `((x)) && rm`: its status 1 would end a `set -e` setup
    rm -f "$policy"
  fi
else
  log "apt: all ${#APT_PACKAGES[@]} packages present"
fi
