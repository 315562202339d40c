"""Container-credentials benchmark (docs/benchmarks.md, "Container credentials"): `podiam agent`'s
container-credentials endpoint against nginx serving the same bytes on the same listener
(169.254.170.23:80 in the node namespace), and the cost of a TokenReview on a cache miss.

    PYTHONPATH=tests/lib ~/.cache/podiam/venv/bin/python bench/container_credentials_bench.py \
        --podiam build-bench/bin/podiam [--duration 10] [--quick] [--out FILE]

Run by `scripts/bench --container-credentials`. Same test environment as bench/agent_bench.py: a
real kube-apiserver (TokenRequest, TokenReview), moto behind the counting STS proxy, a node
namespace and a pod namespace; wrk runs in the pod, whose Pod object owns its IP and whose token
is bound to it. Nothing leaves the test namespaces.

  1. cached requests (review and credentials cached): wrk -t2 -c64 at saturation, and ~5,000
     req/s fixed rate (-c50, 10 ms between requests per connection): requests/s, p50/p99/p99.9
  2. nginx in the agent's place on the same address, serving the agent's exact response body
  3. a cache miss: N fresh tokens for the same pod, the first request of each timed from inside
     the pod, next to the same number of cached requests, and the TokenReview alone (from the
     host, same apiserver)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_common import Wrk, start_nginx
from podiam_testenv import cleanup
from podiam_testenv.agent import Agent
from podiam_testenv.cluster import ApiError, Cluster
from podiam_testenv.faultproxy import FaultProxy
from podiam_testenv.kube import Kube, unique
from podiam_testenv.moto import MotoServer
from podiam_testenv.netns import Node, assert_host_forwarding_off, connect

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "agent" / "container_credentials.lua"
ADDR = "169.254.170.23"
AUDIENCE = "pods.eks.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/bench-pia"


def log(msg: str) -> None:
    print(f"[cc-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed_get(pod, token: str) -> tuple[int, bytes, float]:
    """One request on a fresh connection from inside the pod: (status, body, seconds)."""
    t0 = time.perf_counter()
    s = connect(ADDR, 80, pod.name, 5)
    try:
        s.sendall(f"GET /v1/credentials HTTP/1.1\r\nHost: {ADDR}\r\nAuthorization: {token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    seconds = time.perf_counter() - t0
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, seconds


def run_wrk(pod, token: str, duration: float, connections: int, delay_ms: int | None = None,
            warmup: float = 2.0) -> dict:
    wrk = Wrk(pod.name, LUA, f"http://{ADDR}/v1/credentials", threads=2, connections=connections,
              settings={"BENCH_TOKEN": token}, delay_ms=delay_ms)
    wrk.warm_up(warmup)
    return wrk.run(duration)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))]


def nginx(node: Node, body: bytes, tmp: Path):
    root = tmp / "nginx"
    return start_nginx(node, root, body, workers="auto", address=ADDR, port=80,
                       locations=f"location = /v1/credentials {{ alias {root}/www/creds.json; }}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--podiam", required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--misses", type=int, default=50)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    duration = 3.0 if args.quick else args.duration
    misses = 10 if args.quick else args.misses
    os.environ["PODIAM_BUILD_DIR"] = str(Path(args.podiam).resolve().parent.parent)
    assert_host_forwarding_off()
    cleanup.remove(cleanup.stale())
    tmp = Path(tempfile.mkdtemp(prefix="podiam-cc-bench-"))
    os.chmod(tmp, 0o755)
    closers = []
    res: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                 "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                 "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
                 "duration": duration}
    try:
        log("starting the test cluster")
        cluster = Cluster.start()
        closers.append(cluster.stop)
        moto = MotoServer("127.0.0.1").start()
        closers.append(moto.stop)
        sts = FaultProxy(moto.endpoint)
        closers.append(sts.close)
        kube = Kube(cluster.rest)
        crd = yaml.safe_load((REPO / "deploy/crds/podidentityassociations.podiam.io.yaml").read_text())
        try:
            cluster.rest.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        except ApiError as e:
            if e.status != 409:
                raise
        ns = kube.create_namespace(unique("ccbench"), annotations={
            "iam.amazonaws.com/allowed-roles": json.dumps(["bench-*"])})["metadata"]["name"]
        kube.namespace = ns
        kube.create_service_account("app")
        kube.wait_service_account("app")
        for _ in range(100):  # the CRD must be served before the association can be made
            try:
                kube.rest.post(f"/apis/podiam.io/v1alpha1/namespaces/{ns}/podidentityassociations", {
                    "apiVersion": "podiam.io/v1alpha1", "kind": "PodIdentityAssociation",
                    "metadata": {"name": "app"}, "spec": {"serviceAccount": "app", "roleArn": ROLE}})
                break
            except ApiError:
                time.sleep(0.2)
        node = Node()
        closers.append(node.destroy)
        node.sts_endpoint = node.expose(moto.endpoint)
        pod = node.add_pod()
        obj = kube.run_pod(pod_ip=pod.ip, service_account="app")
        token = kube.request_token("app", audiences=(AUDIENCE,), pod=obj, expiration_seconds=3600)

        agent = Agent(cluster, kube, node, sts, (
            "--container-credentials-link=lo", f"--container-credentials-listen={ADDR}:80",
            "--container-credentials-pod-qps=0"))
        agent.start()
        closers.append(agent.stop)
        deadline = time.monotonic() + 30
        while True:
            status, body, _ = timed_get(pod, token)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if status != 200:
            raise RuntimeError(f"no credentials: {status} {body[:300]!r}\n{agent.log_tail()}")
        res["body_bytes"] = len(body)

        log("podiam: saturation and fixed rate")
        res["podiam_sat"] = run_wrk(pod, token, duration, 64)
        res["podiam_rate"] = run_wrk(pod, token, duration, 50, delay_ms=10)

        log(f"podiam: {misses} cache misses (fresh tokens) and as many hits")
        miss, hit, review = [], [], []
        for _ in range(misses):
            fresh = kube.request_token("app", audiences=(AUDIENCE,), pod=obj, expiration_seconds=3600)
            t0 = time.perf_counter()
            kube.token_review(fresh, [AUDIENCE])
            review.append(time.perf_counter() - t0)
            fresh = kube.request_token("app", audiences=(AUDIENCE,), pod=obj, expiration_seconds=3600)
            s, _, secs = timed_get(pod, fresh)
            assert s == 200, s
            miss.append(secs)
            s, _, secs = timed_get(pod, fresh)
            assert s == 200, s
            hit.append(secs)
        res["miss_ms"] = {p: 1e3 * pct(miss, p) for p in (50, 90, 99)}
        res["hit_ms"] = {p: 1e3 * pct(hit, p) for p in (50, 90, 99)}
        res["review_ms"] = {p: 1e3 * pct(review, p) for p in (50, 90, 99)}
        res["misses"] = misses
        res["reviews_metric"] = agent.metric("podiam_container_credentials_token_reviews_total")
        agent.stop()
        closers.remove(agent.stop)

        log("nginx on the same address, same body")
        proc = nginx(node, body, tmp)
        try:
            res["nginx_sat"] = run_wrk(pod, token, duration, 64)
            res["nginx_rate"] = run_wrk(pod, token, duration, 50, delay_ms=10)
        finally:
            proc.terminate()
            proc.wait(10)
        res["nginx_version"] = subprocess.run(["nginx", "-v"], capture_output=True,
                                              text=True).stderr.strip()
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception as e:  # noqa: BLE001 - keep tearing down
                log(f"teardown: {e}")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    print(report(res))
    return 0


def report(r: dict) -> str:
    def row(name, w):
        return (f"| {name} | {w['rps']:.0f} | {w['p50'] / 1e3:.3f} | {w['p99'] / 1e3:.3f} | "
                f"{w['p999'] / 1e3:.3f} | {w['errors']} |")
    ratio = r["podiam_sat"]["rps"] / r["nginx_sat"]["rps"]
    return "\n".join([
        f"- Run: {r['started']}, {r['machine']}, load average at the start "
        f"{' '.join(r['loadavg_start'])}; {r['nginx_version']}; wrk -t2 in the pod namespace, "
        f"{r['duration']:g} s per run after a 2 s warm-up; response body {r['body_bytes']} bytes.",
        "",
        "| run | requests/s | p50 ms | p99 ms | p99.9 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
        row("podiam, saturation (-c64)", r["podiam_sat"]),
        row("nginx, saturation (-c64)", r["nginx_sat"]),
        row("podiam, ~5k req/s (-c50, 10 ms delay)", r["podiam_rate"]),
        row("nginx, ~5k req/s (-c50, 10 ms delay)", r["nginx_rate"]),
        "",
        f"podiam / nginx at saturation: {ratio:.2f}×.",
        "",
        f"Cache miss vs hit ({r['misses']} fresh tokens, one new connection per request, timed in "
        "the pod; ms p50 / p90 / p99):",
        "",
        "| request | p50 | p90 | p99 |",
        "|---|---:|---:|---:|",
        "| first request of a fresh token (TokenReview + cached credentials) | "
        + " | ".join(f"{r['miss_ms'][p]:.2f}" for p in (50, 90, 99)) + " |",
        "| second request of that token (review cached) | "
        + " | ".join(f"{r['hit_ms'][p]:.2f}" for p in (50, 90, 99)) + " |",
        "| the TokenReview alone (host → apiserver, Python client) | "
        + " | ".join(f"{r['review_ms'][p]:.2f}" for p in (50, 90, 99)) + " |",
    ])


if __name__ == "__main__":
    sys.exit(main())
