"""A bounded soak of `podiam agent` (issue 7, "Soak"): pod churn with IP reuse and steady
metadata requests, with the agent's resident memory, open file descriptors, threads and STS call
rate sampled throughout. It fails on growth and on any wrong-role answer.

    PODIAM_SOAK_SECONDS=1800 ~/.cache/podiam/venv/bin/python -m pytest -p no:cacheprovider \\
        tests/e2e/test_agent_soak.py          # the 30-minute run behind docs/benchmarks.md "Soak"

The default length (PODIAM_SOAK_SECONDS, 100 s) is what CI runs. Samples go to
build/soak/soak-<time>.csv and a summary to build/soak/soak-<time>.json (PODIAM_SOAK_DIR
overrides the directory).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import threading
import time
from pathlib import Path

import pytest

from podiam_testenv.agent import build_dir, sanitized
from podiam_testenv.imds_client import namespace, run_pod
from podiam_testenv.pod_lookup import MIN_REMAINING, Poller, lookup, session_of, wait_ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SOAK_SECONDS = float(os.environ.get("PODIAM_SOAK_SECONDS", "100"))
# Every AssumeRole answer is made to expire 15 min + LIFETIME s after it is issued, so each live
# session is refreshed about every LIFETIME / 2 s: the refresh path runs all through the soak.
LIFETIME = 60
STEADY_PODS = 4
CHURN_PODS = 2
WARM_UP = max(20.0, 0.15 * SOAK_SECONDS)
CHURN_PAUSE = 1.0  # seconds between generations of churned pods
RELEASE_GRACE = 30  # BrokerOptions.release_grace: how long a deleted pod's entry may linger


class Sampler:
    """Samples the agent process and the counters every `every` seconds on a thread."""

    FIELDS = ["t", "rss_kb", "fds", "threads", "sts_assume_role", "lookups_ok", "lookups_refused",
              "wrong", "pods_created", "creds_entries", "pod_store_bytes"]

    def __init__(self, agent, sts, counters, every: float):
        self.agent, self.sts, self.counters, self.every = agent, sts, counters, every
        self.rows: list[dict] = []
        self.t0 = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def sample(self) -> dict:
        row = {"t": round(time.time() - self.t0, 1), **self.agent.process_stats(),
               "sts_assume_role": self.sts.counts("AssumeRole"), **self.counters(),
               "creds_entries": self.agent.metric("podiam_creds_entries"),
               "pod_store_bytes": self.agent.metric("podiam_k8s_informer_store_bytes", resource="pods")}
        self.rows.append(row)
        return row

    def _run(self):
        while not self._stop.wait(self.every):
            self.sample()

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(30)
        self.sample()
        return self.rows


def thirds(rows: list[dict], start: float) -> tuple[list[dict], list[dict]]:
    """The first and last third of the rows sampled at or after `start` seconds."""
    after = [r for r in rows if r["t"] >= start]
    if len(after) < 3:
        after = rows
    n = max(1, len(after) // 3)
    return after[:n], after[-n:]


def test_soak_pod_churn_and_steady_requests_show_no_growth(kube, pods, start_agent, sts):
    """For PODIAM_SOAK_SECONDS: STEADY_PODS pods look up their credentials in a loop while
    CHURN_PODS network namespaces see their pod deleted and replaced by a new one with the same
    IP and the other role, over and over; every session is refreshed about every 30 s. Proves:
    after warm-up the agent's RSS, open fds and threads do not grow (last third of the samples
    against the first), the STS call rate stays flat and the total stays bounded by pods created
    plus refreshes, cache entries stay bounded, and no answer is ever another pod's credentials."""
    agent = start_agent()
    ns = namespace(kube, ["steady", "churn-a", "churn-b"])
    sts.fault("expire_in", action="AssumeRole", seconds=MIN_REMAINING + LIFETIME)
    netns = pods(STEADY_PODS + CHURN_PODS)
    steady_pods, churn_pods = netns[:STEADY_PODS], netns[STEADY_PODS:]
    steady_objs = [run_pod(kube, p, ns, "steady") for p in steady_pods]
    current = {p.name: run_pod(kube, p, ns, "churn-a") for p in churn_pods}
    lock = threading.Lock()
    stats = {"lookups_ok": 0, "lookups_refused": 0, "wrong": 0, "pods_created": len(netns),
             "churn_wait_max": 0.0}
    wrong: list[str] = []

    def check(answer, role, obj) -> None:
        """Counts one answer; a served key must be the pod's own session of the asked role."""
        rec = sts.issued(answer.key) if answer.ok else None
        with lock:
            stats["lookups_ok" if answer.ok else "lookups_refused"] += 1
            if answer.ok and (rec is None or rec["role_arn"].rsplit("/", 1)[1] != role
                              or rec["session"] != session_of(obj) or answer.leak):
                stats["wrong"] += 1
                wrong.append(f"{answer.key} {rec} for {session_of(obj)}")

    for pod, obj in zip(steady_pods, steady_objs):
        check(wait_ok(pod, "steady", timeout=30), "steady", obj)
    for pod in churn_pods:
        check(wait_ok(pod, "churn-a", timeout=30), "churn-a", current[pod.name])

    class Checked(Poller):
        def __init__(self, pod, obj):
            super().__init__(pod, "steady", interval=0.05)
            self.obj = obj

        def _run(self):
            while not self._stop.is_set():
                check(lookup(self.pod, self.role), self.role, self.obj)
                self._stop.wait(self.interval)

    def counters():
        with lock:
            return {k: stats[k] for k in ("lookups_ok", "lookups_refused", "wrong", "pods_created")}

    sampler = Sampler(agent, sts, counters, every=max(2.0, SOAK_SECONDS / 150)).start()
    pollers = [Checked(p, o).start() for p, o in zip(steady_pods, steady_objs)]
    deadline = time.time() + SOAK_SECONDS
    generation = 0
    try:
        while time.time() < deadline:
            generation += 1
            role = "churn-b" if generation % 2 else "churn-a"
            for pod in churn_pods:
                new = kube.reuse_ip(current[pod.name], annotations={"iam.amazonaws.com/role": role})
                current[pod.name] = new
                with lock:
                    stats["pods_created"] += 1
                started = time.monotonic()
                # The new pod's own session; an earlier pod's (same IP) would count as wrong.
                check(wait_ok(pod, role, timeout=60), role, new)
                with lock:
                    stats["churn_wait_max"] = max(stats["churn_wait_max"], time.monotonic() - started)
            time.sleep(CHURN_PAUSE)
    finally:
        for p in pollers:
            p.stop()
        rows = sampler.stop()

    out_dir = Path(os.environ.get("PODIAM_SOAK_DIR") or build_dir() / "soak")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    with open(out_dir / f"soak-{stamp}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=Sampler.FIELDS)
        w.writeheader()
        w.writerows(rows)
    first, last = thirds(rows, WARM_UP)
    duration = rows[-1]["t"]
    sts_calls = rows[-1]["sts_assume_role"]
    per_min = lambda rs: 60 * (rs[-1]["sts_assume_role"] - rs[0]["sts_assume_role"]) / max(  # noqa: E731
        1.0, rs[-1]["t"] - rs[0]["t"])
    summary = {
        "seconds": duration, "samples": len(rows), "generations": generation,
        "pods_created": stats["pods_created"],
        "rss_kb": {"start": rows[0]["rss_kb"], "after_warm_up": first[0]["rss_kb"],
                   "end": rows[-1]["rss_kb"], "max": max(r["rss_kb"] for r in rows),
                   "first_third_median": statistics.median(r["rss_kb"] for r in first),
                   "last_third_median": statistics.median(r["rss_kb"] for r in last)},
        "fds": {"min": min(r["fds"] for r in rows), "max": max(r["fds"] for r in rows),
                "end": rows[-1]["fds"]},
        "threads": {"min": min(r["threads"] for r in rows), "max": max(r["threads"] for r in rows)},
        "sts_assume_role": sts_calls,
        "sts_per_min": {"overall": round(60 * sts_calls / max(duration, 1), 1),
                        "first_third": round(per_min(first), 1), "last_third": round(per_min(last), 1)},
        "lookups_ok": stats["lookups_ok"], "lookups_refused": stats["lookups_refused"],
        "wrong": stats["wrong"], "churn_wait_max_s": round(stats["churn_wait_max"], 2),
        "creds_entries_max": max(r["creds_entries"] for r in rows),
        "pod_store_bytes": {"first": rows[0]["pod_store_bytes"], "end": rows[-1]["pod_store_bytes"],
                            "max": max(r["pod_store_bytes"] for r in rows)},
        "imds_requests": agent.metric("podiam_imds_requests_total"),
        "command": f"PODIAM_SOAK_SECONDS={int(SOAK_SECONDS)} python -m pytest -p no:cacheprovider "
                   "tests/e2e/test_agent_soak.py",
    }
    (out_dir / f"soak-{stamp}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))

    assert stats["wrong"] == 0, wrong[:10]
    assert generation >= 3 and stats["lookups_ok"] >= 100 * STEADY_PODS, summary
    # Steady pods are never refused: refreshes happen while the old credentials still serve.
    assert stats["lookups_refused"] <= 0.005 * stats["lookups_ok"], summary
    # No growth after warm-up: RSS (allocator noise allowed; not under ASan, whose quarantine
    # and shadow memory grow by design), fds and threads.
    rss_first, rss_last = summary["rss_kb"]["first_third_median"], summary["rss_kb"]["last_third_median"]
    if not sanitized():
        assert rss_last <= rss_first * 1.10 + 2048, summary["rss_kb"]
    # A pooled HTTP connection costs 4 descriptors (its socket and its own event loop's epoll,
    # eventfd and timerfd). The STS and apiserver pools keep up to max_idle_per_host (4,
    # transport/http_client.hpp) idle connections each and reach that only when concurrency
    # peaks, which may be late in a short run (a loaded machine makes STS answers slower, so
    # more calls overlap): up to 3 more connections per pool are allowed. A leak grows with
    # requests or pods (thousands here), far beyond that.
    pool_growth = 2 * (4 - 1) * 4
    assert max(r["fds"] for r in last) <= max(r["fds"] for r in first) + pool_growth, rows
    assert max(r["threads"] for r in last) <= max(r["threads"] for r in first) + 2, rows
    # The pod informer's own estimate of its store follows the pods it holds, not those it saw.
    store_first = statistics.median(r["pod_store_bytes"] for r in first)
    store_last = statistics.median(r["pod_store_bytes"] for r in last)
    assert store_last <= store_first + 1024, (store_first, store_last)
    # STS: one call per pod created plus one per refresh of a live session, and a flat rate.
    live_sessions = STEADY_PODS + CHURN_PODS
    bound = stats["pods_created"] + live_sessions * (duration / (LIFETIME / 2 * 0.8) + 1)
    assert sts_calls <= bound, (sts_calls, bound)
    assert summary["sts_per_min"]["last_third"] <= summary["sts_per_min"]["first_third"] * 1.5 + 10, summary
    # Released sessions are dropped after their grace period: at any sample, entries are the
    # live pods plus those deleted within the grace period (10 s slack for the ticker).
    for row in rows:
        old = [r for r in rows if r["t"] <= row["t"] - RELEASE_GRACE - 10]
        recent = row["pods_created"] - (old[-1]["pods_created"] if old else live_sessions)
        assert row["creds_entries"] <= live_sessions + recent + CHURN_PODS * 2, (row, old[-1:])
