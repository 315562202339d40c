# syntax=docker/dockerfile:1
# podiam's image: the one `podiam` binary (every subcommand) on a minimal Debian 12 runtime.
# Supported build, from the repository root (the commit is what `podiam version` reports):
#   docker build --build-arg PODIAM_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t podiam:0.1.0 .
# (docs/helm.md, "Image"). The runtime has only the shared libraries podiam links and the two
# tools the agent runs on the node (iptables for the DNAT rule, iproute2's ip for the
# container-credentials link); podiam needs no shell. It runs as uid 65532; the agent's
# DaemonSet runs it as root (runAsUser: 0), which iptables and ip need in the host network.

FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libssl-dev nlohmann-json3-dev libpugixml-dev libyaml-cpp-dev \
      libspdlog-dev libfmt-dev libcli11-dev libexpected-dev libre2-dev \
      libgtest-dev libgmock-dev googletest \
    && rm -rf /var/lib/apt/lists/*
ARG PODIAM_GIT_COMMIT=unknown
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY cmd cmd
COPY src src
COPY testing testing
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODIAM_BENCH=OFF \
      -DPODIAM_GIT_COMMIT="${PODIAM_GIT_COMMIT}" \
    && ninja -C build podiam \
    && strip build/bin/podiam \
    && build/bin/podiam version

FROM debian:12-slim
# Runtime libraries of the binary (ldd) and the agent's node tools; nothing else.
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libre2-9 libyaml-cpp0.7 libspdlog1.10 libfmt9 libpugixml1v5 \
      iptables iproute2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 podiam && useradd --uid 65532 --gid 65532 --no-create-home \
         --home-dir /nonexistent --shell /usr/sbin/nologin podiam
COPY --from=build /src/build/bin/podiam /usr/local/bin/podiam
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/podiam"]
