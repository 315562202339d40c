"""Controller benchmark (docs/benchmarks.md, "Controller"; issue 18): 1,000 AWSIAMRoles reconciled
from cold, then the steady-state STS calls per hour.

    PYTHONPATH=tests/lib ~/.cache/podiam/venv/bin/python bench/controller_bench.py \
        --podiam build-bench/bin/podiam [--roles 1000] [--namespaces 50] [--quick] [--out FILE]

Run by `scripts/bench --controller`. A real kube-apiserver + kube-controller-manager, moto behind
the counting STS proxy (the proxy records every credential it passes on: role session, time).
No root needed: nothing runs in a network namespace.

  1. cold: NAMESPACES namespaces allowing `bench-*`, ROLES/NAMESPACES AWSIAMRoles each, created
     before `podiam controller` starts; then the time from its start until every AWSIAMRole is
     Ready with its Secret, the AssumeRole calls the proxy saw, the controller's peak RSS and CPU
     seconds.
  2. steady state, time-compressed: the proxy rewrites every AssumeRole answer's Expiration to
     now + 17 min (`expire_in`, as a short session would look) and the controller runs with
     --refresh-before=15m, so each role is refreshed 120 s minus the broker's jitter
     (uniform in [0, 10 % of refresh-before) = [0, 90 s)) after each issue: a mean interval of
     120 - 45 = 75 s. The run measures every role's interval between its first two AssumeRole
     calls and compares the mean with 75 s. The same rule at the defaults (--session-duration 1h,
     --refresh-before 30m) gives a mean interval of 1800 - 90 = 1710 s, i.e. 3600 / 1710 = 2.11
     calls per role per hour; the report scales the measured ratio to that.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml
from podiam_testenv.cluster import Cluster
from podiam_testenv.faultproxy import FaultProxy
from podiam_testenv import kube
from podiam_testenv.kube import Kube
from podiam_testenv.moto import MotoServer, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASE = "arn:aws:iam::123456789012:role/"
CRD = REPO / "deploy" / "crds" / "awsiamroles.podiam.io.yaml"
MIN_REMAINING = 15 * 60          # the broker's (docs/controller.md, "When STS fails")
COMPRESSED_LIFETIME = MIN_REMAINING + 120
COMPRESSED_REFRESH_BEFORE = 15 * 60
JITTER = 0.10                    # of --refresh-before, uniform (creds/refresh_rules.cpp)
DEFAULT_LIFETIME, DEFAULT_REFRESH_BEFORE = 3600, 1800


def log(msg: str) -> None:
    print(f"[controller-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def mean_interval(lifetime: float, refresh_before: float) -> float:
    """The broker's mean time from an issue to its refresh: refresh_before earlier than the expiry,
    minus a uniform jitter of up to JITTER * refresh_before (never later than expiry - 15 min)."""
    latest = lifetime - MIN_REMAINING
    return min(lifetime - refresh_before, latest) - JITTER * refresh_before / 2


def proc_sample(pid: int) -> tuple[int, int, float]:
    """(VmRSS KiB, VmHWM KiB, CPU seconds user+system) of a process."""
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, hwm, cpu


def apply_crd(cluster: Cluster) -> None:
    kube.apply_crd(cluster.rest, yaml.safe_load(CRD.read_text()), field_manager="podiam-bench")


def progress(cluster: Cluster) -> tuple[int, int]:
    """(AWSIAMRoles Ready=True, Secrets the controller manages), cluster-wide."""
    roles = cluster.rest.get("/apis/podiam.io/v1/awsiamroles")["items"]
    ready = sum(1 for r in roles for c in (r.get("status") or {}).get("conditions") or []
                if c["type"] == "Ready" and c["status"] == "True")
    secrets = cluster.rest.get("/api/v1/secrets", params={
        "labelSelector": "app.kubernetes.io/managed-by=podiam-controller"})["items"]
    return ready, len(secrets)


def issues_by_session(sts: FaultProxy) -> dict[str, list[float]]:
    """AssumeRole issue times per RoleSessionName (one role each), sorted."""
    out: dict[str, list[float]] = {}
    for rec in sts.issued().values():
        if rec["action"] == "AssumeRole":
            out.setdefault(rec["session"], []).append(rec["time"])
    return {k: sorted(v) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--podiam", required=True)
    ap.add_argument("--roles", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="100 roles in 10 namespaces")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if args.quick:
        args.roles, args.namespaces = 100, 10
    per_ns = args.roles // args.namespaces
    n = per_ns * args.namespaces
    tmp = Path(tempfile.mkdtemp(prefix="podiam-controller-bench-"))
    res: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                 "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                 "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
                 "roles": n, "namespaces": args.namespaces}
    closers = []
    try:
        log("starting the test cluster, moto and the counting proxy")
        cluster = Cluster.start()
        closers.append(cluster.stop)
        moto = MotoServer("127.0.0.1").start()
        closers.append(moto.stop)
        sts = FaultProxy(moto.endpoint)
        closers.append(sts.close)
        apply_crd(cluster)
        kube = Kube(cluster.rest)

        log(f"creating {n} AWSIAMRoles in {args.namespaces} namespaces")
        t = time.monotonic()
        names = [f"ctrlbench-{i:03d}" for i in range(args.namespaces)]

        def make_namespace(ns: str) -> None:
            kube.create_namespace(ns, annotations={
                "iam.amazonaws.com/allowed-roles": json.dumps(["bench-*"])},
                wait_default_sa=False)
            for j in range(per_ns):
                cluster.rest.post(f"/apis/podiam.io/v1/namespaces/{ns}/awsiamroles", {
                    "apiVersion": "podiam.io/v1", "kind": "AWSIAMRole",
                    "metadata": {"name": f"role-{j:02d}"},
                    "spec": {"roleReference": f"bench-{j:02d}"}})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(make_namespace, names))
        res["create_seconds"] = round(time.monotonic() - t, 1)

        # Every AssumeRole answer lives 17 min (time compression, step 2 above).
        sts.fault("expire_in", action="AssumeRole", seconds=COMPRESSED_LIFETIME)
        ops = free_port()
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp),
               "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
        controller_log = open(tmp / "controller.log", "wb")  # noqa: SIM115 - closed below
        log("starting podiam controller")
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [args.podiam, "controller", "--kubeconfig", cluster.kubeconfig,
             "--sts-endpoint", sts.endpoint, "--base-role-arn", BASE, "--leader-elect=false",
             f"--refresh-before={COMPRESSED_REFRESH_BEFORE // 60}m",
             "--metrics-listen", f"127.0.0.1:{ops}"],
            env=env, stdout=controller_log, stderr=subprocess.STDOUT)
        closers.insert(0, lambda: (proc.terminate(), proc.wait(20), controller_log.close()))
        ready_at = secrets_at = None
        cpu_ready = hwm_ready = 0.0
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"controller exited {proc.returncode}: see {tmp}/controller.log")
            ready, secrets = progress(cluster)
            if secrets >= n and secrets_at is None:
                secrets_at = time.monotonic() - t0
            if ready >= n and secrets >= n:
                ready_at = time.monotonic() - t0
                _, hwm_ready, cpu_ready = proc_sample(proc.pid)
                break
            if time.monotonic() - t0 > 300:
                raise RuntimeError(f"only {ready}/{n} Ready, {secrets} Secrets after 300 s")
            time.sleep(0.5)
        issued = issues_by_session(sts)
        res["cold"] = {
            "seconds_to_all_ready": round(ready_at, 1),
            "assume_role_requests": sts.counts("AssumeRole"),
            "roles_with_credentials": len(issued),
            "extra_calls_during_cold": sum(len(v) - 1 for v in issued.values()),
            "peak_rss_mib": round(hwm_ready / 1024, 1),
            "cpu_seconds": round(cpu_ready, 2),
        }
        log(f"cold: {res['cold']}")

        # Steady state: wait until every role has been refreshed once (at most 120 s after its
        # issue) and its Secret updated (the reconcile 30 s after the refresh time), then measure.
        expected = mean_interval(COMPRESSED_LIFETIME, COMPRESSED_REFRESH_BEFORE)
        deadline = time.monotonic() + COMPRESSED_LIFETIME - MIN_REMAINING + 60

        def secret_updates() -> int:
            text = requests.get(f"http://127.0.0.1:{ops}/metrics", timeout=5).text
            return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                           if line.startswith('podiam_controller_secret_writes_total{op="update"}')))

        while time.monotonic() < deadline:
            issued = issues_by_session(sts)
            if (sum(1 for v in issued.values() if len(v) >= 2) >= n
                    and secret_updates() >= n):
                break
            time.sleep(2)
        issued = issues_by_session(sts)
        intervals = [v[1] - v[0] for v in issued.values() if len(v) >= 2]
        rss, hwm, cpu = proc_sample(proc.pid)
        updates = secret_updates()
        measured = sum(intervals) / len(intervals) if intervals else float("nan")
        ratio = measured / expected
        default_interval = mean_interval(DEFAULT_LIFETIME, DEFAULT_REFRESH_BEFORE)
        res["steady"] = {
            "roles_refreshed": len(intervals),
            "mean_interval_s": round(measured, 1),
            "min_interval_s": round(min(intervals), 1) if intervals else None,
            "max_interval_s": round(max(intervals), 1) if intervals else None,
            "predicted_interval_s": expected,
            "compressed_calls_per_hour": round(n * 3600 / measured),
            "default_interval_s": default_interval,
            "default_calls_per_hour_predicted": round(n * 3600 / default_interval),
            "default_calls_per_hour_scaled": round(n * 3600 / (default_interval * ratio)),
            "secret_updates": updates,
            "assume_role_requests_total": sts.counts("AssumeRole"),
            "rss_mib": round(rss / 1024, 1),
            "peak_rss_mib": round(hwm / 1024, 1),
            "cpu_seconds_total": round(cpu, 2),
            "seconds_since_start": round(time.monotonic() - t0, 1),
        }
        log(f"steady: {res['steady']}")
    finally:
        for close in closers:
            try:
                close()
            except Exception as e:  # noqa: BLE001 - best-effort teardown
                log(f"teardown: {e}")
    res["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
