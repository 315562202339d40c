"""`podiam webhook` benchmark (docs/benchmarks.md, "Webhook"): a real kube-apiserver calls the
webhook for a burst of pod creations.

  - admission latency: client-side latency of 1,000 pod POSTs (16 in flight) in a namespace the
    webhook mutates, against the same burst in a namespace it does not see (the apiserver alone);
  - handling time per review: the webhook's own podiam_webhook_admission_duration_seconds;
  - RSS of the webhook with 10,000 ServiceAccounts cached.

    PYTHONPATH=tests/lib python bench/webhook_bench.py --podiam build-bench/bin/podiam [--quick]
Prints a Markdown section (and JSON with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from podiam_testenv.cluster import Cluster
from podiam_testenv.kube import Kube, unique
from podiam_testenv.webhook import TEST_LABEL, Webhook, WebhookCerts

ROLE = "arn:aws:iam::111122223333:role/bench"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def burst(kube: Kube, namespace: str, n: int, workers: int) -> list[float]:
    def one(i: int) -> float:
        t = time.perf_counter()
        kube.rest.post(f"/api/v1/namespaces/{namespace}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
            "spec": {"serviceAccountName": "bench", "nodeName": "bench-node",
                     "containers": [{"name": "app", "image": "registry.invalid/x:none"}]}})
        return time.perf_counter() - t
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--podiam", required=True)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--service-accounts", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.quick:
        a.pods, a.service_accounts = 100, 500
    os.environ["PODIAM_BUILD_DIR"] = str(Path(a.podiam).resolve().parents[1])
    cluster = Cluster.from_env() or Cluster.start()
    tmp = Path(tempfile.mkdtemp(prefix="podiam-webhook-bench-"))
    hook = None
    kube = Kube(cluster.rest)
    spaces = []
    try:
        certs = WebhookCerts(tmp / "certs")
        hook = Webhook(cluster, certs, args=("--log-level=warn",)).start()
        rss_empty = rss_kib(hook.proc.pid)
        test_id = unique("bench")
        mutated = kube.create_namespace(unique("whb"), labels={TEST_LABEL: test_id})["metadata"]["name"]
        plain = kube.create_namespace(unique("whb"))["metadata"]["name"]
        spaces += [mutated, plain]
        for ns in (mutated, plain):
            kube.create_service_account("bench", namespace=ns, annotations={
                "eks.amazonaws.com/role-arn": ROLE})
        kube.create_node("bench-node")
        # 10,000 ServiceAccounts with the role annotation, as a big cluster has.
        t = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: kube.create_service_account(
                f"sa-{i}", namespace=plain, annotations={
                    "eks.amazonaws.com/role-arn": f"arn:aws:iam::111122223333:role/r{i}"}),
                range(a.service_accounts)))
        deadline = time.monotonic() + 120
        while hook.metric("podiam_webhook_serviceaccounts_cached") < a.service_accounts:
            assert time.monotonic() < deadline, "the webhook did not cache every ServiceAccount"
            time.sleep(0.5)
        sa_seconds = time.perf_counter() - t
        time.sleep(2)
        rss_full = rss_kib(hook.proc.pid)
        hook.register(test_id)
        time.sleep(1)
        # Warm-up (connections, apiserver webhook client), then the measured bursts.
        burst(kube, mutated, 20, 4)
        kube.rest.delete(f"/api/v1/namespaces/{mutated}/pods", params={"gracePeriodSeconds": 0})
        time.sleep(2)
        count0 = hook.metric('podiam_webhook_admission_duration_seconds_count{result="mutated"}')
        sum0 = hook.metric('podiam_webhook_admission_duration_seconds_sum{result="mutated"}')
        t = time.perf_counter()
        with_hook = burst(kube, mutated, a.pods, a.workers)
        hook_wall = time.perf_counter() - t
        count1 = hook.metric('podiam_webhook_admission_duration_seconds_count{result="mutated"}')
        sum1 = hook.metric('podiam_webhook_admission_duration_seconds_sum{result="mutated"}')
        t = time.perf_counter()
        without = burst(kube, plain, a.pods, a.workers)
        plain_wall = time.perf_counter() - t
        result = {
            "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
            "load_before": Path("/proc/loadavg").read_text().split()[:3],
            "pods": a.pods, "workers": a.workers, "service_accounts": a.service_accounts,
            "with_webhook_ms": {"p50": pct(with_hook, 50) * 1e3, "p99": pct(with_hook, 99) * 1e3,
                                "mean": statistics.mean(with_hook) * 1e3,
                                "pods_per_s": a.pods / hook_wall},
            "without_webhook_ms": {"p50": pct(without, 50) * 1e3, "p99": pct(without, 99) * 1e3,
                                   "mean": statistics.mean(without) * 1e3,
                                   "pods_per_s": a.pods / plain_wall},
            "reviews": count1 - count0,
            "handling_mean_us": (sum1 - sum0) / max(1.0, count1 - count0) * 1e6,
            "rss_kib_empty": rss_empty, "rss_kib_cached": rss_full,
            "sa_cache_fill_s": sa_seconds,
        }
    finally:
        for ns in spaces:
            kube.delete_namespace(ns)
        kube.delete_node("bench-node")
        if hook:
            hook.stop()
        if cluster.owned:
            cluster.stop()
    cache = Path(a.podiam).resolve().parents[1] / "CMakeCache.txt"
    build_type = next((l.split("=", 1)[1] for l in cache.read_text().splitlines()
                       if l.startswith("CMAKE_BUILD_TYPE:")), "?") if cache.exists() else "?"
    result["build_type"] = build_type
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2))
    w, p = result["with_webhook_ms"], result["without_webhook_ms"]
    print(f"""### Webhook

`scripts/bench --webhook` ({result['machine']}; load average before: {' '.join(result['load_before'])}).
The real kube-apiserver (tests/cluster) calls `podiam webhook` ({result['build_type']} build) on loopback over
TLS; {result['pods']} pod creations, {result['workers']} in flight, client-side latency of each POST.

| | p50 | p99 | mean | pods/s |
|---|---|---|---|---|
| pods mutated by the webhook | {w['p50']:.1f} ms | {w['p99']:.1f} ms | {w['mean']:.1f} ms | {w['pods_per_s']:.0f} |
| same burst, namespace not sent to the webhook | {p['p50']:.1f} ms | {p['p99']:.1f} ms | {p['mean']:.1f} ms | {p['pods_per_s']:.0f} |

- Handling time per review inside the webhook (`podiam_webhook_admission_duration_seconds`, mean
  over {result['reviews']:.0f} reviews): {result['handling_mean_us']:.0f} µs.
- RSS: {result['rss_kib_empty'] / 1024:.1f} MiB after start, {result['rss_kib_cached'] / 1024:.1f} MiB
  with {result['service_accounts']} ServiceAccounts (each with a role annotation) cached.
""")


if __name__ == "__main__":
    main()
