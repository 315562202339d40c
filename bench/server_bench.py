"""`podiam server` scale benchmark (docs/benchmarks.md, "Server"; issue 17).

    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true PYTHONPATH=tests/lib \\
        ~/.cache/podiam/venv/bin/python bench/server_bench.py --podiam build-bench/bin/podiam \\
        [--quick] [--out FILE] [--skip-real] [--skip-sim] [--skip-agent]

Run by `scripts/bench --server`. No root needed except for the pod → agent run (network
namespaces; skipped with a note without root). Every sample comes with the load average at the
time it was taken (the machine may be shared).

  1. real: the real kube-apiserver + etcd of tests/cluster; REAL_PODS pods (20,000; --quick
     2,000) created with 4 threads in 200 namespaces on 500 Node objects, the pods' shape from
     bench/fake_apiserver.py without status, ownerReferences or managedFields (no kubelet, and
     the garbage collector would delete pods whose ReplicaSet does not exist); 30 % carry
     `iam.amazonaws.com/role: bench-role-NN` (one of 50 roles per namespace). Then
     `podiam server --session-scope=service-account` (admin kubeconfig, moto behind the counting
     STS proxy): time to /readyz 200 and to all pods in the informer (its metrics), time until
     the prefetch holds one session per (namespace, ServiceAccount, role), the AssumeRole count,
     RSS (VmRSS, VmHWM) and CPU seconds at start-up and over an idle window (60 s; --quick 10 s);
     then CHURN pod updates (1,000; --quick 200; an annotation patched, 4 threads) and the CPU
     they cost the server.
  2. latency: POST /v1/credentials with real pod-bound agent tokens (TokenRequest for a
     ServiceAccount bound to an "agent pod" on node N, audience podiam-server) for the pods with
     a role on node N, at a fixed RATE per node (1,000/s) for DURATION s (30; --quick 10), cache
     warm (every pod asked once first), open loop: request k is due at start + k/RATE and its
     latency counts from that time, so a stalled server is not hidden (coordinated omission).
     Python asyncio, 8 keep-alive HTTPS connections per node; the achieved rate is reported.
     Then (root only: network namespaces) the pod → `podiam agent --server` cached path at
     ~1,000 req/s, with the server's request counter showing it was not asked.
  3. simulated: bench/fake_apiserver.py with SIM_PODS pods on SIM_NODES nodes in 500 namespaces
     (150,000 / 5,000; --quick 15,000 / 500), plain HTTP, a trickle of 10 MODIFIED pods per
     second; the same server flags: start-up times, RSS, CPU, the informer's own store sizes
     (`podiam_k8s_informer_store_bytes`), AssumeRole count, the ceiling (every pod page fetched
     without parsing), and glibc's malloc_stats() /
     malloc_trim(0) in the server through gdb (live bytes vs RSS; skipped without gdb).
  4. kiam (--kiam PATH, a kiam binary built by hand outside the repository): `kiam server`
     against the same real apiserver and 20,000 pods, after podiam's run: time from process
     start to its "listening" log line (kiam logs it once its pod and namespace informers have
     synced), RSS and CPU at that moment and over the same idle window. kiam's AWS SDK (Go, v1)
     has no STS endpoint setting, so its prefetch cannot reach moto here: its credential cache
     stays empty, and its AssumeRole attempts fail at DNS (reported, not hidden). Run without
     --region: kiam checks a regional endpoint's DNS name at start-up and exits without it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from podiam_testenv.cluster import ApiError, Cluster
from podiam_testenv.faultproxy import FaultProxy
from podiam_testenv.kube import Kube
from podiam_testenv.moto import MotoServer, free_port
from podiam_testenv.webhook import WebhookCerts

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fake_apiserver as fake  # noqa: E402 - bench/ is not a package

ACCOUNT = "123456789012"
BASE = f"arn:aws:iam::{ACCOUNT}:role/"
AGENT_NS, AGENT_SA, AUDIENCE = "podiam-bench", "podiam-agent", "podiam-server"
THREADS = 4


def log(msg: str) -> None:
    print(f"[server-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def proc_sample(pid: int) -> dict:
    """VmRSS and VmHWM in MiB, CPU seconds (user + system) of a process."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["cpu_s"] = round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    out["loadavg"] = loadavg()
    return out


def expected_sessions(shape: fake.ClusterShape) -> int:
    """Distinct (namespace, ServiceAccount, role) among the pods with a role."""
    return len({i % shape.namespaces for i in range(shape.pods) if fake.pod_role(shape, i)})


class Server:
    """`podiam server` with an ops port on plain HTTP (metrics polled without TLS)."""

    def __init__(self, podiam: str, kubeconfig: Path, sts: FaultProxy, certs: WebhookCerts,
                 workdir: Path, extra: tuple[str, ...] = ()):
        self.port, self.ops = free_port(), free_port()
        self.certs = certs
        env = {"PATH": os.environ["PATH"], "HOME": str(workdir),
               "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
        self.log_path = workdir / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [podiam, "server", "--kubeconfig", str(kubeconfig),
             "--listen", f"127.0.0.1:{self.port}", "--cert", str(certs.cert_file),
             "--key", str(certs.key_file), "--sts-endpoint", sts.endpoint,
             "--base-role-arn", BASE, "--session-scope", "service-account",
             "--metrics-listen", f"127.0.0.1:{self.ops}", *extra],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited {self.proc.returncode}: see {self.log_path}")

    def metrics(self) -> dict[str, float]:
        text = requests.get(f"http://127.0.0.1:{self.ops}/metrics", timeout=10).text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.ops}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def startup(self, pods: int, sessions: int, timeout: float = 600) -> dict:
        """Polls (every 0.2 s) until ready, all pods in the informer and `sessions` prefetches
        finished (ok or not); the seconds since the process started for each, and samples."""
        res: dict = {}
        while time.monotonic() - self.t0 < timeout:
            self.alive()
            now = time.monotonic() - self.t0
            if "ready_s" not in res and self.ready():
                res["ready_s"] = round(now, 2)
                res["at_ready"] = proc_sample(self.proc.pid)
            try:
                m = self.metrics()
            except requests.RequestException:
                time.sleep(0.2)
                continue
            if ("pods_listed_s" not in res
                    and m.get('podiam_k8s_informer_objects{resource="pods"}', 0) >= pods
                    and m.get('podiam_k8s_informer_synced{resource="pods"}') == 1):
                res["pods_listed_s"] = round(now, 2)
            # podiam_creds_entries counts sessions being fetched too: count finished fetches.
            fetched = sum(v for k, v in m.items()
                          if k.startswith('podiam_creds_sts_fetches_total{reason="prefetch"'))
            if "prefetched_s" not in res and fetched >= sessions:
                res["prefetched_s"] = round(now, 2)
                res["at_prefetched"] = proc_sample(self.proc.pid)
            if {"ready_s", "pods_listed_s", "prefetched_s"} <= res.keys():
                return res
            time.sleep(0.2)
        raise RuntimeError(f"start-up incomplete after {timeout} s: {res}; see {self.log_path}")

    def store_bytes(self) -> dict:
        m = self.metrics()
        return {r: int(m.get(f'podiam_k8s_informer_store_bytes{{resource="{r}"}}', 0))
                for r in ("pods", "namespaces", "serviceaccounts")}

    def watch_events(self) -> float:
        return sum(v for k, v in self.metrics().items()
                   if k.startswith("podiam_k8s_watch_events_total") and '"pods"' in k)


def idle(server: Server, seconds: float) -> dict:
    a = proc_sample(server.proc.pid)
    time.sleep(seconds)
    b = proc_sample(server.proc.pid)
    return {"seconds": seconds, "cpu_s": round(b["cpu_s"] - a["cpu_s"], 2),
            "cpu_percent": round(100 * (b["cpu_s"] - a["cpu_s"]) / seconds, 2), "end": b}


def malloc_probe(server: Server) -> dict:
    """Where the RSS goes, without heaptrack: glibc's malloc_stats() (called in the server with
    gdb; it prints to the server's stderr, i.e. its log) gives the bytes malloc holds from the
    system and the bytes in use; then malloc_trim(0) returns the free ones and RSS is sampled
    again. Skipped without gdb."""
    if not shutil.which("gdb"):
        return {"skipped": "no gdb"}
    pid = server.proc.pid
    before = proc_sample(pid)
    mark = server.log_path.stat().st_size

    def call(expr: str) -> None:
        subprocess.run(["gdb", "-batch", "-nx", "-p", str(pid), "-ex", f"call {expr}"],
                       capture_output=True, timeout=120, check=False)

    call("(void)malloc_stats()")
    time.sleep(0.5)
    text = server.log_path.read_bytes()[mark:].decode(errors="replace")
    total = text.split("Total (incl. mmap):")[-1] if "Total (incl. mmap):" in text else ""
    nums = {}
    for line in total.splitlines():
        key, _, value = line.partition("=")
        if value.strip().isdigit():
            nums[key.strip()] = int(value)
    arenas = text.count("Arena ")
    call("(int)malloc_trim(0)")
    after = proc_sample(pid)
    return {"rss_mib_before": before["VmRSS"],
            "malloc_system_mib": round(nums.get("system bytes", 0) / 2**20, 1),
            "malloc_in_use_mib": round(nums.get("in use bytes", 0) / 2**20, 1),
            "arenas": arenas, "rss_mib_after_malloc_trim": after["VmRSS"]}


# ---- latency: a constant-rate HTTPS load generator -------------------------------------------

async def _load(port: int, ca: Path, nodes: list[dict], rate: float, seconds: float,
                conns_per_node: int) -> dict:
    """Open loop: node n's request k is due at start + k/rate; latency from the due time."""
    ctx = ssl.create_default_context(cafile=str(ca))
    loop = asyncio.get_running_loop()
    statuses: Counter = Counter()
    lat: list[float] = []
    service: list[float] = []
    errors = 0

    async def connect():
        return await asyncio.open_connection("127.0.0.1", port, ssl=ctx)

    async def node_run(node: dict, start: float):
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(conns_per_node):
            pool.put_nowait(await connect())
        reqs = []
        for b in node["bodies"]:
            payload = json.dumps(b).encode()
            reqs.append(b"POST /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Authorization: Bearer " + node["token"].encode() + b"\r\n"
                        b"Content-Type: application/json\r\nContent-Length: "
                        + str(len(payload)).encode() + b"\r\n\r\n" + payload)

        async def one(k: int, due: float):
            nonlocal errors
            reader, writer = await pool.get()
            sent = loop.time()
            try:
                writer.write(reqs[k % len(reqs)])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                done = loop.time()
                statuses[status] += 1
                lat.append(done - due)
                service.append(done - sent)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                writer.close()
                reader, writer = await connect()
            pool.put_nowait((reader, writer))

        tasks = []
        for k in range(int(rate * seconds)):
            due = start + k / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(k, due)))
        await asyncio.gather(*tasks)
        while not pool.empty():
            _, w = pool.get_nowait()
            w.close()

    start = loop.time() + 0.5
    await asyncio.gather(*(node_run(n, start) for n in nodes))
    elapsed = loop.time() - start
    lat.sort()
    service.sort()

    def pct(xs: list[float], p: float) -> float:
        return round(1000 * xs[min(len(xs) - 1, int(p * len(xs)))], 3) if xs else float("nan")

    return {"requests": len(lat), "errors": errors, "statuses": dict(statuses),
            "achieved_rps": round(len(lat) / elapsed, 1), "target_rps": rate * len(nodes),
            "p50_ms": pct(lat, 0.50), "p90_ms": pct(lat, 0.90), "p99_ms": pct(lat, 0.99),
            "max_ms": round(1000 * lat[-1], 3) if lat else None,
            "service_p99_ms": pct(service, 0.99)}


def warm(server: Server, nodes: list[dict]) -> None:
    """Every target pod asked until 200 (the server knows it and holds its credentials)."""
    for node in nodes:
        for b in node["bodies"]:
            deadline = time.monotonic() + 60
            while True:
                r = requests.post(f"https://127.0.0.1:{server.port}/v1/credentials", json=b,
                                  headers={"Authorization": f"Bearer {node['token']}"},
                                  verify=str(server.certs.ca_file), timeout=10)
                if r.status_code == 200:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{b['name']}: {r.status_code} {r.text}")
                time.sleep(0.2)


# ---- the parts -----------------------------------------------------------------------------

def real_part(args, sts: FaultProxy, certs: WebhookCerts, tmp: Path, closers: list) -> dict:
    shape = fake.ClusterShape(pods=args.real_pods, nodes=500, namespaces=200)
    res: dict = {"pods": shape.pods, "namespaces": shape.namespaces, "nodes": shape.nodes,
                 "roles": shape.roles}
    log("starting the test cluster")
    cluster = Cluster.start()
    closers.insert(0, cluster.stop)
    kube = Kube(cluster.rest)
    local = threading.local()

    def rest():
        if not hasattr(local, "rest"):
            local.rest = type(cluster.rest)(cluster.server, cluster.admin_token, cluster.ca_file)
        return local.rest

    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda n: rest().post("/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{n:05d}"}}),
            range(shape.nodes)))
        list(pool.map(lambda n: Kube(rest()).create_namespace(
            f"ns-{n:04d}", annotations={fake.ALLOWED_KEY: '["bench-role-*"]'}),
            range(shape.namespaces)))
    res["create_nodes_namespaces_s"] = round(time.monotonic() - t, 1)
    log(f"creating {shape.pods} pods with {THREADS} threads")

    def make_pod(i: int) -> None:
        obj = fake.pod_object(shape, i, 0, with_status=False)
        meta = obj["metadata"]
        for key in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences"):
            meta.pop(key)
        for c in obj["spec"]["containers"]:
            c.pop("volumeMounts")
        del obj["spec"]["volumes"]
        rest().post(f"/api/v1/namespaces/{meta['namespace']}/pods", obj)

    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(make_pod, range(shape.pods)))
    res["create_pods_s"] = round(time.monotonic() - t, 1)
    res["create_pods_per_s"] = round(shape.pods / res["create_pods_s"])
    res["loadavg_after_create"] = loadavg()
    log(f"pods created in {res['create_pods_s']} s")

    # Agents: one agent pod per latency node, its pod-bound token.
    kube.create_namespace(AGENT_NS)
    kube.create_service_account(AGENT_SA, namespace=AGENT_NS)
    kube.wait_service_account(AGENT_SA, namespace=AGENT_NS)
    nodes = []
    for n in range(args.nodes):
        agent = kube.create_pod(name=f"agent-{n}", node=f"node-{n:05d}", namespace=AGENT_NS,
                                service_account=AGENT_SA)
        token = kube.request_token(AGENT_SA, audiences=(AUDIENCE,), pod=agent,
                                   namespace=AGENT_NS)
        bodies = []
        for i in range(n, shape.pods, shape.nodes):
            role = fake.pod_role(shape, i)
            if role:
                ns = f"ns-{i % shape.namespaces:04d}"
                pod = cluster.rest.get(f"/api/v1/namespaces/{ns}/pods/app-{i}")
                bodies.append({"namespace": ns, "name": f"app-{i}",
                               "uid": pod["metadata"]["uid"], "roleArn": BASE + role})
        nodes.append({"token": token, "bodies": bodies})
    res["latency_pods_per_node"] = [len(n["bodies"]) for n in nodes]

    sessions = expected_sessions(shape)
    before = sts.counts("AssumeRole")
    log("starting podiam server")
    server = Server(args.podiam, Path(cluster.kubeconfig), sts, certs, tmp,
                    ("--agent-service-account", f"{AGENT_NS}:{AGENT_SA}"))
    closers.insert(0, server.stop)
    res["startup"] = server.startup(shape.pods + len(nodes), sessions)
    res["expected_sessions"] = sessions
    res["assume_role_calls"] = sts.counts("AssumeRole") - before
    res["store_bytes"] = server.store_bytes()
    log(f"start-up: {res['startup']}")
    res["idle"] = idle(server, args.idle)
    log(f"idle: {res['idle']}")

    log(f"churn: {args.churn} pod updates")
    events0, cpu0 = server.watch_events(), proc_sample(server.proc.pid)["cpu_s"]
    t = time.monotonic()

    def touch(k: int) -> None:
        i = (k * 7919) % shape.pods
        rest().patch(f"/api/v1/namespaces/ns-{i % shape.namespaces:04d}/pods/app-{i}",
                     {"metadata": {"annotations": {"podiam.bench/tick": str(k)}}})

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(touch, range(args.churn)))
    while server.watch_events() - events0 < args.churn and time.monotonic() - t < 120:
        time.sleep(0.2)
    churn_s = time.monotonic() - t
    after = proc_sample(server.proc.pid)
    res["churn"] = {"updates": args.churn, "events_seen": int(server.watch_events() - events0),
                    "seconds": round(churn_s, 1), "cpu_s": round(after["cpu_s"] - cpu0, 2),
                    "cpu_ms_per_update": round(1000 * (after["cpu_s"] - cpu0) / args.churn, 3),
                    "end": after}
    log(f"churn: {res['churn']}")

    log(f"latency: {args.rate}/s per node x {args.nodes} node(s), {args.latency_seconds} s")
    warm(server, nodes)
    a = proc_sample(server.proc.pid)
    lat = asyncio.run(_load(server.port, certs.ca_file, nodes, args.rate, args.latency_seconds,
                            conns_per_node=8))
    b = proc_sample(server.proc.pid)
    lat["server_cpu_percent"] = round(100 * (b["cpu_s"] - a["cpu_s"]) / args.latency_seconds, 1)
    lat["loadavg_end"] = loadavg()
    lat["assume_role_calls_during"] = sts.counts("AssumeRole") - before - res["assume_role_calls"]
    res["latency"] = lat
    log(f"latency: {lat}")
    if args.skip_agent or os.geteuid() != 0:
        res["agent_cached"] = {"skipped": "--skip-agent" if args.skip_agent else "needs root"}
    else:
        res["agent_cached"] = agent_part(args, cluster, server, sts, closers)
        log(f"agent cached path: {res['agent_cached']}")
    res["end"] = proc_sample(server.proc.pid)
    server.stop()
    closers.remove(server.stop)
    if args.kiam:
        log("starting kiam server over the same apiserver")
        res["kiam"] = kiam_part(args, cluster, certs, tmp)
        log(f"kiam: {res['kiam']}")
    return res


def kiam_part(args, cluster: Cluster, certs: WebhookCerts, tmp: Path) -> dict:
    """`kiam server` (args.kiam) over the same apiserver: start-up to "listening", RSS, CPU."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp),
           "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    log_path = tmp / "kiam-server.log"
    t0 = time.monotonic()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [args.kiam, "server", "--kubeconfig", str(cluster.kubeconfig),
             "--bind", f"127.0.0.1:{free_port()}", "--cert", str(certs.cert_file),
             "--key", str(certs.key_file), "--ca", str(certs.ca_file),
             # no --region: kiam resolves sts.<region>.amazonaws.com at start-up and exits when
             # that fails (no DNS here); the global endpoint is not checked
             # kiam (main, 2950404) refuses to start without the role its own STS calls assume
             "--role-base-arn", BASE, "--assume-role-arn", BASE + "kiam-server",
             "--level", "info",
             "--prometheus-listen-addr", f"127.0.0.1:{free_port()}"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    res: dict = {"binary": args.kiam, "version": args.kiam_version}
    try:
        while "listening" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"kiam server exited {proc.returncode}: see {log_path}")
            if time.monotonic() - t0 > 600:
                raise RuntimeError(f"kiam server not listening after 600 s: see {log_path}")
            time.sleep(0.2)
        res["listening_s"] = round(time.monotonic() - t0, 2)
        res["at_listening"] = proc_sample(proc.pid)
        a = proc_sample(proc.pid)
        time.sleep(args.idle)
        b = proc_sample(proc.pid)
        res["idle"] = {"seconds": args.idle, "cpu_s": round(b["cpu_s"] - a["cpu_s"], 2),
                       "cpu_percent": round(100 * (b["cpu_s"] - a["cpu_s"]) / args.idle, 2),
                       "end": b}
        text = log_path.read_text(errors="replace")
        res["sts_errors_logged"] = sum(1 for line in text.splitlines()
                                       if "error" in line.lower() and "sts" in line.lower())
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return res


def agent_part(args, cluster: Cluster, server: Server, sts: FaultProxy, closers: list) -> dict:
    """pod → `podiam agent --server` (a node network namespace, its pod-bound agent token),
    cache warm, at ~RATE req/s: wrk in a pod, bench/agent/imds.lua `get`, 10 connections each
    waiting 10 ms between requests (closed loop with think time, as agent_bench's fixed-rate
    runs). The server's and the agent's request counters show whether the server was asked."""
    from agent_bench import Processes, check_credentials, imds_token, run_wrk
    from podiam_testenv.agent import Agent
    from podiam_testenv.netns import Node, Relay, assert_host_forwarding_off

    assert_host_forwarding_off()
    os.environ["PODIAM_BUILD_DIR"] = str(Path(args.podiam).resolve().parent.parent)
    os.environ["PODIAM_AGENT_LOG_LEVEL"] = "info"
    kube = Kube(cluster.rest)
    ns = kube.create_namespace("agent-bench", annotations={
        fake.ALLOWED_KEY: '["bench-role-*"]'})["metadata"]["name"]
    kube.namespace = ns
    node = Node()
    closers.insert(0, node.destroy)
    agent_pod = kube.create_pod(name="agent", node=kube.node, namespace=AGENT_NS,
                                service_account=AGENT_SA)
    token_file = Path(tempfile.mkdtemp(prefix="podiam-server-bench-agent-")) / "token"
    token_file.write_text(kube.request_token(AGENT_SA, audiences=(AUDIENCE,), pod=agent_pod,
                                             namespace=AGENT_NS))
    node._closing(Relay(("127.0.0.1", server.port), "127.0.0.1", server.port, node.name))
    agent = Agent(cluster, kube, node, sts, (
        "--server", f"https://127.0.0.1:{server.port}", "--server-ca", str(server.certs.ca_file),
        "--server-token-file", str(token_file)))
    agent.start()
    closers.insert(0, agent.stop)
    pod = node.add_pod()
    role = "bench-role-00"
    kube.run_pod(name="app", namespace=ns, pod_ip=pod.ip, annotations={fake.ROLE_KEY: role})
    token = imds_token(pod)
    deadline = time.monotonic() + 30
    while True:
        try:
            check_credentials(pod, role, token)
            break
        except (RuntimeError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

    def server_requests() -> float:
        return sum(v for k, v in server.metrics().items()
                   if k.startswith("podiam_server_requests_total"))

    srv0 = server_requests()
    client0 = agent.metric("podiam_server_client_requests_total")
    r = run_wrk(pod, role, token, "get", args.latency_seconds, connections=10, threads=2,
                delay_ms=10, procs=Processes([agent.proc.pid]), warmup=2.0)
    out = {"achieved_rps": round(r["rps"], 1), "requests": r["requests"], "errors": r["errors"],
           "p50_ms": r["p50"] / 1000, "p90_ms": r["p90"] / 1000, "p99_ms": r["p99"] / 1000,
           "p999_ms": r["p999"] / 1000, "max_ms": r["max"] / 1000,
           "agent_cpu_percent": round(100 * r["cpu_seconds"] / r["wall_seconds"], 1),
           "agent_rss_mib": round(r["rss_kib_after"] / 1024, 1),
           "server_requests_during": int(server_requests() - srv0),
           "agent_server_requests_during": int(
               agent.metric("podiam_server_client_requests_total") - client0),
           "loadavg_end": loadavg()}
    agent.stop()
    closers.remove(agent.stop)
    return out


def fetch_only(api: fake.FakeApiserver) -> dict:
    """The ceiling of the simulated start-up: every pod page (limit 500, as the informer asks)
    fetched over one keep-alive connection and discarded, no JSON parse: what the generator and
    the loopback cost on their own."""
    import http.client
    from urllib.parse import quote, urlsplit
    u = urlsplit(api.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    t, cpu, total, pages, token = time.monotonic(), time.process_time(), 0, 0, ""
    while True:
        conn.request("GET", f"/api/v1/pods?limit=500&continue={quote(token)}")
        body = conn.getresponse().read()
        total += len(body)
        pages += 1
        # The continue token is in the list's metadata, before the items.
        meta = json.loads(body[:body.index(b',"items":[')] + b"}")["metadata"]
        token = meta.get("continue", "")
        if not token:
            break
    conn.close()
    return {"pages": pages, "mib": round(total / 2**20, 1),
            "seconds": round(time.monotonic() - t, 2),
            "client_cpu_s": round(time.process_time() - cpu, 2), "loadavg": loadavg()}


def sim_part(args, sts: FaultProxy, certs: WebhookCerts, tmp: Path, closers: list) -> dict:
    shape = fake.ClusterShape(pods=args.sim_pods, nodes=args.sim_nodes, namespaces=500)
    log(f"rendering {shape.pods} simulated pods")
    api = fake.FakeApiserver(shape).start()
    closers.insert(0, api.stop)
    res: dict = {"pods": shape.pods, "nodes": shape.nodes, "namespaces": shape.namespaces,
                 "render_s": round(api.render_seconds, 1),
                 "pod_json_bytes_mean": round(api.pod_bytes / shape.pods),
                 "list_json_mib": round(api.pod_bytes / 2**20, 1)}
    res["fetch_only"] = fetch_only(api)
    log(f"fetch only: {res['fetch_only']}")
    sessions = expected_sessions(shape)
    before = sts.counts("AssumeRole")
    log("starting podiam server against the fake apiserver")
    server = Server(args.podiam, api.write_kubeconfig(tmp / "fake-kubeconfig"), sts, certs, tmp)
    closers.insert(0, server.stop)
    res["startup"] = server.startup(shape.pods, sessions)
    res["expected_sessions"] = sessions
    res["assume_role_calls"] = sts.counts("AssumeRole") - before
    res["store_bytes"] = server.store_bytes()
    log(f"start-up: {res['startup']}")
    api.trickle(10.0)
    res["idle_with_trickle_10_per_s"] = idle(server, args.idle)
    res["store_bytes_end"] = server.store_bytes()
    res["fake_apiserver_requests"] = dict(api.requests)
    res["malloc"] = malloc_probe(server)
    log(f"malloc: {res['malloc']}")
    log(f"idle: {res['idle_with_trickle_10_per_s']}")
    server.stop()
    closers.remove(server.stop)
    api.stop()
    closers.remove(api.stop)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--podiam", required=True)
    ap.add_argument("--quick", action="store_true",
                    help="2,000 real pods, 15,000 simulated on 500 nodes, 10 s latency and idle")
    ap.add_argument("--real-pods", type=int, default=20_000)
    ap.add_argument("--sim-pods", type=int, default=150_000)
    ap.add_argument("--sim-nodes", type=int, default=5_000)
    ap.add_argument("--rate", type=float, default=1000.0, help="requests/s per node")
    ap.add_argument("--nodes", type=int, default=1, help="agent nodes in the latency run")
    ap.add_argument("--latency-seconds", type=float, default=30.0)
    ap.add_argument("--idle", type=float, default=60.0, help="idle window, s")
    ap.add_argument("--churn", type=int, default=1000)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-sim", action="store_true")
    ap.add_argument("--skip-agent", action="store_true",
                    help="no pod → agent (server mode) run (it needs root: network namespaces)")
    ap.add_argument("--kiam", help="a kiam binary (built by hand, outside the repository): also "
                    "measure `kiam server` over the real apiserver's pods")
    ap.add_argument("--kiam-version", default="", help="what that binary is, for the record")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if args.quick:
        args.real_pods, args.sim_pods, args.sim_nodes = 2_000, 15_000, 500
        args.latency_seconds, args.idle, args.churn = 10.0, 10.0, 200
    tmp = Path(tempfile.mkdtemp(prefix="podiam-server-bench-"))
    build = Path(args.podiam).resolve().parent.parent / "CMakeCache.txt"
    build_type = next((line.split("=", 1)[1] for line in build.read_text().splitlines()
                       if line.startswith("CMAKE_BUILD_TYPE:")), "?") if build.exists() else "?"
    res: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "loadavg_start": loadavg(),
                 "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
                 "podiam": str(args.podiam), "build_type": build_type, "quick": args.quick}
    closers: list = []
    try:
        moto = MotoServer("127.0.0.1").start()
        closers.append(moto.stop)
        sts = FaultProxy(moto.endpoint)
        closers.insert(0, sts.close)
        certs = WebhookCerts(tmp / "certs")
        if not args.skip_real:
            (tmp / "real").mkdir()
            res["real"] = real_part(args, sts, certs, tmp / "real", closers)
        if not args.skip_sim:
            (tmp / "sim").mkdir()
            res["simulated"] = sim_part(args, sts, certs, tmp / "sim", closers)
    finally:
        for close in closers:
            try:
                close()
            except (OSError, RuntimeError, ApiError, subprocess.SubprocessError) as e:
                log(f"teardown: {e}")
    res["loadavg_end"] = loadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    print(markdown(res))
    return 0


def markdown(res: dict) -> str:
    """The tables of docs/benchmarks.md "Server" (the prose there is kept by hand)."""
    out = [f"Run {res['started']}, {res['machine']}, podiam {res['build_type']}, load average "
           f"{res['loadavg_start']} at the start, {res['loadavg_end']} at the end.", ""]
    rows = []
    for key, label in (("real", "real apiserver"), ("simulated", "simulated (fake apiserver)")):
        r = res.get(key)
        if not r:
            continue
        s = r["startup"]
        # Start-up ends with the later of "ready" and "every session prefetched".
        done = s["at_ready"] if s["ready_s"] >= s["prefetched_s"] else s["at_prefetched"]
        idle_key = "idle" if key == "real" else "idle_with_trickle_10_per_s"
        rows.append(
            f"| {label}, {r['pods']:,} pods | {s['ready_s']} s | {s['pods_listed_s']} s | "
            f"{s['prefetched_s']} s | {r['assume_role_calls']} ({r['expected_sessions']}) | "
            f"{done['VmRSS']} / {r[idle_key]['end']['VmRSS']} MiB | "
            f"{r[idle_key]['end']['VmHWM']} MiB | {done['cpu_s']} s | "
            f"{r[idle_key]['cpu_percent']} % | "
            f"{round(r['store_bytes']['pods'] / r['pods'])} B |")
    if rows:
        out += ["| cluster | → /readyz | → all pods listed | → all sessions prefetched | "
                "AssumeRole (expected) | RSS after start-up / after idle | peak RSS | "
                "CPU for start-up | CPU idle | informer store per pod |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, ""]
    sim = res.get("simulated")
    if sim and "fetch_only" in sim:
        f = sim["fetch_only"]
        out += [f"Ceiling of the simulated start-up: the {f['pages']} pod pages ({f['mib']} MiB) "
                f"fetched without parsing in {f['seconds']} s.", ""]
    real = res.get("real")
    if real:
        c, lat = real["churn"], real["latency"]
        out += [f"Churn: {c['updates']:,} pod updates seen in {c['seconds']} s, "
                f"{c['cpu_s']} CPU s ({c['cpu_ms_per_update']} ms per update).", "",
                "| agent → server, cache warm | target | achieved | p50 | p90 | p99 | max | "
                "errors | server CPU |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
                f"| POST /v1/credentials | {lat['target_rps']:g}/s | {lat['achieved_rps']}/s | "
                f"{lat['p50_ms']} ms | {lat['p90_ms']} ms | {lat['p99_ms']} ms | "
                f"{lat['max_ms']} ms | {lat['errors']} | {lat['server_cpu_percent']} % |"]
        a = real.get("agent_cached") or {}
        if "p99_ms" in a:
            out += [f"| pod → agent (server mode), cached | ~1000/s | {a['achieved_rps']}/s | "
                    f"{a['p50_ms']} ms | {a['p90_ms']} ms | {a['p99_ms']} ms | {a['max_ms']} ms | "
                    f"{a['errors']} | {a['server_requests_during']} server requests "
                    f"(agent CPU {a['agent_cpu_percent']} %) |"]
        k = real.get("kiam")
        if k:
            out += ["", f"kiam server ({k['version'] or k['binary']}) over the same "
                    f"{real['pods']:,} pods: \"listening\" (informers synced) after "
                    f"{k['listening_s']} s, RSS {k['at_listening']['VmRSS']} / "
                    f"{k['idle']['end']['VmRSS']} MiB (start-up / after idle), peak "
                    f"{k['idle']['end']['VmHWM']} MiB, {k['at_listening']['cpu_s']} CPU s for "
                    f"start-up, {k['idle']['cpu_percent']} % idle; STS unreachable for it "
                    f"({k['sts_errors_logged']} STS errors logged).", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
