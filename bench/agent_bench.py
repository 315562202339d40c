"""Agent benchmarks side by side: `podiam agent`, nginx (the ceiling) and kube2iam (the peer).

Run by scripts/bench (which builds everything first); writes a JSON file of results that
bench/agent_report.py turns into the generated section of docs/benchmarks.md.

    PYTHONPATH=tests/lib ~/.cache/podiam/venv/bin/python bench/agent_bench.py \
        --podiam build-bench/bin/podiam --out /tmp/results.json [--quick] [--kube2iam BIN]
        [--podiam-args "--session-scope=service-account"] [--rollout-pods 1000]

Everything runs on the test environment of tests/lib/podiam_testenv: a real kube-apiserver,
moto behind the counting STS proxy, a "node" network namespace per system and pod namespaces
joined to it. Load generators (wrk) run inside pod namespaces and reach 169.254.169.254:80
through the node's DNAT rule, as a real pod does. Nothing leaves the test namespaces.

Measurements (docs/benchmarks.md explains each one):
  1. cached credential requests: wrk at saturation (GET alone; PUT token + 2 GETs) and at a
     fixed ~5,000 req/s (p50/p99/p99.9), with the server's CPU per 1,000 req/s
  2. first-credential latency over N pods: IP set in the API -> first 200 for the credentials
  3. STS AssumeRole calls per hour for N pods over 10 roles (counted at the proxy)
  4. VmRSS with 0, 110 and 1,000 pods on the node
  5. informer ingest: the agent's start-to-ready with 1,000 node pods in a 10,000-pod cluster,
     and podiam_bench_k8s_informer (10,000 realistic pods through the informer path)
  6. STS volume of a rollout: one Deployment's N pods (same namespace, ServiceAccount and role)
     created on a node, counted at the proxy, per system (podiam with its defaults, podiam with
     --podiam-args, kube2iam)

kube2iam is measured only when a binary built by hand is given (--kube2iam); the repository
never builds it. It runs with podiam_testenv.kube2iam on the same node namespace, pods, DNAT
rule and STS proxy as podiam.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_common import Wrk
from bench_common import start_nginx as common_start_nginx
from podiam_testenv import cleanup
from podiam_testenv.agent import Agent
from podiam_testenv.cluster import Cluster, Rest
from podiam_testenv.faultproxy import FaultProxy
from podiam_testenv.kube import Kube, new_ip, unique
from podiam_testenv.kube2iam import Kube2iam
from podiam_testenv.moto import MotoServer
from podiam_testenv.netns import (IMDS_IP, NODE_IP, Node, assert_host_forwarding_off, connect,
                                  netns_pids)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "agent" / "imds.lua"
ROLE_KEY = "iam.amazonaws.com/role"
ALLOWED_KEY = "iam.amazonaws.com/allowed-roles"
ROLES = [f"bench-role-{i}" for i in range(10)]
CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
NGINX_PORT = 8282
ROLLOUT_PODS_MAX = 5000  # --rollout-pods is capped here: pods are API objects on one node


def log(msg: str) -> None:
    print(f"[agent_bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# /proc

def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def rss_detail(pid: int) -> dict:
    """RssAnon (the process's own memory) and RssFile (mapped files: the binary and shared
    libraries, mostly shared with other processes) in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("RssAnon", "RssFile", "VmHWM", "Threads"):
            out[key] = int(line.split()[1])
    return out


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Processes:
    """The processes of one system (podiam: one; nginx: master + workers) for RSS and CPU."""

    def __init__(self, pids):
        self.pids = list(pids)

    def rss_kib(self) -> int:
        return sum(proc_rss_kib(p) for p in self.pids)

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(p) for p in self.pids)


# ------------------------------------------------------------------------------------------------
# HTTP from inside a pod (raw sockets made in the pod's namespace: no subprocess per request)

def pod_http(pod, method: str, path: str, headers: dict | None = None, timeout: float = 5.0):
    s = connect(IMDS_IP, 80, pod.name, timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {IMDS_IP}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if method == "PUT":
            lines.append("Content-Length: 0")
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def imds_token(pod) -> str:
    status, body = pod_http(pod, "PUT", "/latest/api/token",
                            {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    if status != 200:
        raise RuntimeError(f"token PUT from {pod.name}: {status} {body[:200]!r}")
    return body.decode()


def check_credentials(pod, role: str, token: str | None = None) -> dict:
    headers = {"X-aws-ec2-metadata-token": token} if token else {}
    status, body = pod_http(pod, "GET", CREDS_PATH + role, headers)
    if status != 200:
        raise RuntimeError(f"credentials GET from {pod.name}: {status} {body[:300]!r}")
    doc = json.loads(body)
    if doc.get("Code") != "Success" or not doc.get("AccessKeyId"):
        raise RuntimeError(f"credentials from {pod.name} look wrong: {doc}")
    return doc


# ------------------------------------------------------------------------------------------------
# wrk

def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].split(" [")[0].strip()


def run_wrk(pod, role: str, token: str, mode: str, duration: float, connections: int,
            threads: int = 2, delay_ms: int | None = None, procs: Processes | None = None,
            warmup: float = 0.0) -> dict:
    """wrk from inside `pod` against 169.254.169.254; returns the parsed BENCHJSON plus rps,
    errors and (with procs) the server's CPU seconds and RSS during the measured run."""
    wrk = Wrk(pod.name, LUA, f"http://{IMDS_IP}{CREDS_PATH}{role}", threads=threads,
              connections=connections,
              settings={"BENCH_MODE": mode, "BENCH_ROLE": role, "BENCH_TOKEN": token},
              delay_ms=delay_ms)
    wrk.warm_up(warmup)
    cpu0 = procs.cpu_seconds() if procs else 0.0
    t0 = time.monotonic()
    r = wrk.run(duration)
    wall = time.monotonic() - t0
    cpu1 = procs.cpu_seconds() if procs else 0.0
    r["mode"], r["connections"], r["wrk_threads"], r["delay_ms"] = mode, connections, threads, delay_ms
    if procs:
        r["cpu_seconds"] = cpu1 - cpu0
        r["wall_seconds"] = wall
        # CPU per 1,000 requests per second = CPU share of one core at that rate, per 1k req/s.
        r["cpu_core_pct_per_krps"] = 100.0 * (cpu1 - cpu0) / wall / (r["rps"] / 1000.0)
        r["cpu_us_per_request"] = 1e6 * (cpu1 - cpu0) / max(1, r["requests"])
        r["rss_kib_after"] = procs.rss_kib()
    if r["errors"]:
        log(f"  wrk reported errors: {r}")
    return r


# ------------------------------------------------------------------------------------------------
# nginx: the same credential body, the same token and role-list answers, in its own node

def start_nginx(node: Node, workers: str, body: bytes, token: str, role: str, tmp: Path):
    root = tmp / f"nginx-{workers}"
    proc = common_start_nginx(node, root, body, workers=workers, address=NODE_IP, port=NGINX_PORT,
                              locations=f"""location = /latest/api/token {{
      add_header X-aws-ec2-metadata-token-ttl-seconds 21600 always;
      default_type text/plain;
      return 200 "{token}";
    }}
    location = {CREDS_PATH} {{ default_type text/plain; return 200 "{role}"; }}
    location = {CREDS_PATH}{role} {{ alias {root}/www/creds.json; }}""")
    time.sleep(0.2)
    pids = [p for p in netns_pids(node.name)
            if Path(f"/proc/{p}/comm").read_text().strip() == "nginx"]
    return proc, Processes(pids)


def stop_proc(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)


# ------------------------------------------------------------------------------------------------
# the benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        q = args.quick
        self.duration = 3.0 if q else args.duration
        self.warmup = 1.0 if q else 2.0
        self.first_pods = 10 if q else 100
        self.node_pods_mid = 110
        self.node_pods_big = 200 if q else 1000
        self.cluster_pods = 1000 if q else 10000
        self.sts_window = 30.0 if q else args.sts_window
        self.rollout_pods = min(args.rollout_pods, 100 if q else ROLLOUT_PODS_MAX)
        self.k2i: Kube2iam | None = None
        self.podiam_help = subprocess.run([args.podiam, "agent", "--help"], capture_output=True,
                                          text=True).stdout
        self.results: dict = {"quick": q, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
        self.tmp = Path(tempfile.mkdtemp(prefix="podiam-agent-bench-"))
        os.chmod(self.tmp, 0o755)  # nginx workers run as nobody
        self.closers: list = []

    # -- environment ------------------------------------------------------------------------------
    def setup(self):
        assert_host_forwarding_off()
        cleanup.remove(cleanup.stale())
        log("starting the test cluster (tests/cluster/up)")
        self.cluster = Cluster.start()
        self.closers.append(self.cluster.stop)
        self.moto = MotoServer("127.0.0.1").start()
        self.closers.append(self.moto.stop)
        self.sts = FaultProxy(self.moto.endpoint)
        self.closers.append(self.sts.close)
        self.kube = Kube(self.cluster.rest)
        self.ns = self.kube.create_namespace(unique("bench"), annotations={
            ALLOWED_KEY: json.dumps(ROLES)})["metadata"]["name"]
        self.kube.namespace = self.ns
        self.node = Node()
        self.closers.append(self.node.destroy)
        self.node.sts_endpoint = self.node.expose(self.moto.endpoint)
        log(f"creating {2 * self.first_pods} pod network namespaces")
        self.pods = [self.node.add_pod() for _ in range(2 * self.first_pods)]
        self.agent = None

    def close(self):
        if self.agent is not None:
            self.agent.stop()
        if self.k2i is not None:
            self.k2i.stop()
        for close in reversed(self.closers):
            try:
                close()
            except Exception as e:  # noqa: BLE001 - keep tearing down
                log(f"teardown: {e}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_agent(self, *flags: str) -> Agent:
        os.environ["PODIAM_BUILD_DIR"] = str(Path(self.args.podiam).resolve().parent.parent)
        agent = Agent(self.cluster, self.kube, self.node, self.sts, flags)
        self.agent = agent
        agent.start(wait_ready=False)
        t0 = time.monotonic()  # from the process start (RBAC and token set-up are done)
        agent.wait_ready(timeout=120)
        agent.ready_seconds = time.monotonic() - t0
        comm = Path(f"/proc/{agent.proc.pid}/comm").read_text().strip()
        if comm != "podiam":
            raise RuntimeError(f"agent pid {agent.proc.pid} is {comm!r}, not podiam")
        agent.procs = Processes([agent.proc.pid])
        return agent

    def stop_agent(self):
        if self.agent is not None:
            code = self.agent.stop()
            if code != 0:
                log(f"agent exited {code}:\n{self.agent.log_tail()}")
            self.agent = None

    # -- pods ---------------------------------------------------------------------------------------
    def pod_name(self, i: int) -> str:
        return f"p{i:05d}"

    def role_of(self, i: int) -> str:
        return ROLES[i % len(ROLES)]

    def create_objects(self, names_ips: list[tuple[str, str | None, str | None]], node: str,
                       workers: int = 6, namespace: str | None = None,
                       service_account: str | None = None):
        """Creates pods (name, ip or None, role or None) on `node` in parallel, each thread with
        its own API session."""
        local = threading.local()

        def one(item):
            name, ip, role = item
            if not hasattr(local, "kube"):
                local.kube = Kube(Rest(self.cluster.server, self.cluster.admin_token,
                                       self.cluster.ca_file), namespace=namespace or self.ns)
            local.kube.create_pod(name=name, node=node, service_account=service_account,
                                  annotations={ROLE_KEY: role} if role else None)
            if ip:
                local.kube.set_pod_status(name, pod_ip=ip)

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(one, names_ips))

    # -- 2. first-credential latency ------------------------------------------------------------
    def first_credentials(self, pods, prefix: str, ahead: float, kube: Kube | None = None) -> dict:
        """For each pod: its IP is set, the clock starts, the pod polls until 200. ahead == 0: the
        pod object is created just before (as fast as the API allows); ahead > 0: all the pod
        objects are on the node `ahead` seconds before the first IP is set, as when the kubelet
        takes that long to start the sandbox and set up its network."""
        kube = kube or self.kube
        log(f"first-credential latency over {len(pods)} pods (pods on the node {ahead:g} s "
            "before their IP)")
        names = [f"{prefix}{i:05d}" for i in range(len(pods))]
        if ahead > 0:
            self.create_objects([(n, None, self.role_of(i)) for i, n in enumerate(names)],
                                kube.node)
            time.sleep(ahead)
        sts0 = self.sts_metrics()
        proxy0 = self.sts.counts("AssumeRole")
        lat, polls = [], []
        for i, (pod, name) in enumerate(zip(pods, names)):
            role = self.role_of(i)
            if ahead <= 0:
                kube.create_pod(name=name, annotations={ROLE_KEY: role})
            kube.set_pod_status(name, pod_ip=pod.ip)
            t0 = time.perf_counter()
            n = 0
            while True:
                n += 1
                try:
                    status, _ = pod_http(pod, "GET", CREDS_PATH + role)
                except OSError:
                    status = 0
                if status == 200:
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"{name}: no credentials 30 s after its IP was set")
                time.sleep(0.001)
            lat.append((time.perf_counter() - t0) * 1000)
            polls.append(n)
        sts1 = self.sts_metrics()
        calls = sts1["count"] - sts0["count"]
        return {"pods": len(lat), "ahead_seconds": ahead, **pcts(lat), "polls_max": max(polls),
                "polls_mean": statistics.mean(polls), "names": names,
                "slowest": sorted(((round(ms, 1), i) for i, ms in enumerate(lat)), reverse=True)[:3],
                "sts_calls_during": calls if self.agent else None,
                "proxy_calls_during": self.sts.counts("AssumeRole") - proxy0,
                "sts_mean_ms": 1000 * (sts1["sum"] - sts0["sum"]) / calls if calls else None}

    def sts_metrics(self) -> dict:
        """AssumeRole calls as the agent timed them (podiam_sts_call_duration_seconds); zeros
        when no podiam agent runs (kube2iam)."""
        out = {"sum": 0.0, "count": 0.0}
        if self.agent is None:
            return out
        text = self.agent.metrics()
        for line in text.splitlines():
            if 'action="AssumeRole"' not in line:
                continue
            if line.startswith("podiam_sts_call_duration_seconds_sum"):
                out["sum"] += float(line.rsplit(" ", 1)[1])
            elif line.startswith("podiam_sts_call_duration_seconds_count"):
                out["count"] += float(line.rsplit(" ", 1)[1])
        return out

    def delete_objects(self, names: list[str], workers: int = 6):
        local = threading.local()

        def one(name):
            if not hasattr(local, "kube"):
                local.kube = Kube(Rest(self.cluster.server, self.cluster.admin_token,
                                       self.cluster.ca_file), namespace=self.ns)
            local.kube.delete_pod(name)

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(one, names))

    # -- 1. cached requests ----------------------------------------------------------------------
    def load(self, label: str, procs: Processes, role: str, token: str, pod,
             saturation=True, rate=True, modes=("get", "flow")) -> dict:
        out = {}
        conns, d = self.args.connections, self.duration
        if saturation:
            for mode in modes:
                log(f"  {label}: saturation {mode}")
                out[f"sat_{mode}"] = run_wrk(pod, role, token, mode, d, conns, procs=procs,
                                             warmup=self.warmup)
        if rate:
            for mode in ("get",):
                log(f"  {label}: fixed rate {mode}")
                out[f"rate_{mode}"] = run_wrk(pod, role, token, mode, max(d, 5.0),
                                              self.args.rate_connections,
                                              delay_ms=self.args.rate_delay_ms, procs=procs,
                                              warmup=self.warmup)
        return out

    # -- the whole run ----------------------------------------------------------------------------
    def run(self):
        r = self.results
        r["podiam"] = p = {}
        r["nginx"] = {}
        load_pod = self.pods[0]
        role0 = self.role_of(0)

        # Agent with its defaults, 0 pods on the node.
        log("podiam agent (default flags) with 0 pods on its node")
        agent = self.start_agent()
        p["ready_seconds_empty"] = agent.ready_seconds
        time.sleep(2)
        p["rss_kib"] = {"0": agent.procs.rss_kib()}
        p["rss_detail"] = {"0": rss_detail(agent.proc.pid)}

        n = self.first_pods
        p["first_credential_ms"] = self.first_credentials(self.pods[:n], "p", 0)
        extra = [(self.pod_name(i), new_ip(), None) for i in range(n, self.node_pods_mid)]
        self.create_objects(extra, self.kube.node)
        time.sleep(2)
        p["rss_kib"]["110"] = agent.procs.rss_kib()
        p["rss_detail"]["110"] = rss_detail(agent.proc.pid)
        p["node_pods_mid"] = self.node_pods_mid
        # The same with the pods on the node 1 s before their IPs (kubelet sandbox + CNI time);
        # these pods are deleted again afterwards, leaving node_pods_mid.
        fc_ahead = self.first_credentials(self.pods[n:], "q", 1.0)
        p["first_credential_ahead_ms"] = fc_ahead
        self.delete_objects(fc_ahead["names"])

        token = imds_token(load_pod)
        creds = check_credentials(load_pod, role0, token)
        body = pod_http(load_pod, "GET", CREDS_PATH + role0, {"X-aws-ec2-metadata-token": token})[1]
        r["body_bytes"] = len(body)
        r["sample_arn_check"] = creds["AccessKeyId"][:4] + "…"
        p["threads_default"] = min(os.cpu_count() or 1, 4)
        p["all"] = self.load(f"podiam {p['threads_default']} threads", agent.procs, role0, token,
                             load_pod)
        p["rss_kib"]["110_after_load"] = agent.procs.rss_kib()
        p["rss_detail"]["110_after_load"] = rss_detail(agent.proc.pid)
        self.stop_agent()

        # One I/O thread.
        log("podiam agent --threads 1")
        agent = self.start_agent("--threads", "1")
        token1 = imds_token(load_pod)
        check_credentials(load_pod, role0, token1)
        p["one"] = self.load("podiam 1 thread", agent.procs, role0, token1, load_pod, rate=False)
        self.stop_agent()

        # nginx in a node namespace of its own, same body, same DNAT, same pod setup.
        self.nginx(body, token, role0)

        # kube2iam, if a binary was given: same node namespace, pods and proxy as podiam.
        if self.args.kube2iam:
            try:
                self.kube2iam(token, role0)
            except Exception as e:  # noqa: BLE001 - reported in the results, the rest goes on
                self.stop_kube2iam()
                self.results["kube2iam"]["note"] = f"the run failed: {type(e).__name__}: {e}"
                log(f"kube2iam failed: {e}")

        # 3. STS calls: a shortened schedule, while 5.'s cluster is filled.
        self.sts_and_fill(p)

        # 4./5. the default agent restarted with node_pods_big pods on its node in a
        # cluster_pods cluster: start-to-ready (list + watch of its node's pods) and RSS.
        log(f"podiam agent (default flags) with {self.node_pods_big} pods on its node, "
            f"{self.cluster_pods} in the cluster")
        self.sts.reset_counts()
        agent = self.start_agent()
        p["ready_seconds_big"] = agent.ready_seconds
        deadline = time.monotonic() + 60
        while self.sts.counts("AssumeRole") < self.first_pods and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        p["rss_kib"][str(self.node_pods_big)] = agent.procs.rss_kib()
        p["rss_detail"][str(self.node_pods_big)] = rss_detail(agent.proc.pid)
        p["node_pods_big"], p["cluster_pods"] = self.node_pods_big, self.cluster_pods
        check_credentials(load_pod, role0)
        self.stop_agent()
        if self.results["kube2iam"].get("measured"):
            try:
                self.kube2iam_big()
            except Exception as e:  # noqa: BLE001
                self.stop_kube2iam()
                self.results["kube2iam"]["big_error"] = f"{type(e).__name__}: {e}"
                log(f"kube2iam (big node) failed: {e}")

        # 6. STS volume of a rollout of one Deployment.
        self.rollouts()

        r["informer_bench"] = self.informer_bench()
        r["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]

    def nginx(self, body: bytes, token: str, role: str):
        log("nginx (ceiling) in its own node namespace")
        node = Node()
        self.closers.append(node.destroy)
        pod = node.add_pod()
        node.redirect_imds(NGINX_PORT)
        r = self.results["nginx"]
        for workers, key in (("auto", "all"), ("1", "one")):
            proc, procs = start_nginx(node, workers, body, token, role, self.tmp)
            try:
                status, got = pod_http(pod, "GET", CREDS_PATH + role)
                if status != 200 or got != body:
                    raise RuntimeError(f"nginx serves {status}, {len(got)} bytes, not the "
                                       f"{len(body)}-byte body")
                r.setdefault("rss_kib", procs.rss_kib())
                r[key] = self.load(f"nginx workers {workers}", procs, role, token, pod,
                                   rate=(key == "all"))
                r[f"processes_{key}"] = len(procs.pids)
            finally:
                stop_proc(proc)

    # -- kube2iam (the peer), on the same node namespace, pods and STS proxy ----------------------
    def start_kube2iam(self, kube: Kube, gomaxprocs: int | None = None) -> Kube2iam:
        env = {"GOMAXPROCS": str(gomaxprocs)} if gomaxprocs else {}
        k = Kube2iam(self.args.kube2iam, self.cluster, kube, self.node, self.sts, env=env)
        self.k2i = k
        k.start(timeout=120)
        comm = Path(f"/proc/{k.proc.pid}/comm").read_text().strip()
        if not comm.startswith("kube2iam"):
            raise RuntimeError(f"kube2iam pid {k.proc.pid} is {comm!r}")
        k.procs = Processes([k.proc.pid])
        return k

    def stop_kube2iam(self):
        if self.k2i is not None:
            code = self.k2i.stop()
            if code not in (0, None):
                log(f"kube2iam exited {code}:\n{self.k2i.log_tail()}")
            self.k2i = None

    def kube2iam(self, token: str, role: str):
        """The podiam measurements 1, 2 and 4 again for kube2iam. It gets a Kubernetes node of its
        own (pods of earlier runs are not on it) in the same node network namespace, so the same
        pod namespaces and source IPs talk to it."""
        k = self.results["kube2iam"]
        kube = Kube(self.cluster.rest, namespace=self.ns)
        log(f"kube2iam ({self.args.kube2iam}) with 0 pods on its node {kube.node}")
        agent = self.start_kube2iam(kube)
        k["ready_seconds_empty"] = agent.ready_seconds
        time.sleep(2)
        k["rss_kib"] = {"0": agent.procs.rss_kib()}
        k["rss_detail"] = {"0": rss_detail(agent.proc.pid)}
        n = self.first_pods
        k["first_credential_ms"] = self.first_credentials(self.pods[:n], "k", 0, kube)
        extra = [(f"kx{i:05d}", new_ip(), None) for i in range(n, self.node_pods_mid)]
        self.create_objects(extra, kube.node)
        time.sleep(2)
        k["rss_kib"]["110"] = agent.procs.rss_kib()
        k["rss_detail"]["110"] = rss_detail(agent.proc.pid)
        fa = self.first_credentials(self.pods[n:], "l", 1.0, kube)
        k["first_credential_ahead_ms"] = fa
        self.delete_objects(fa["names"])
        load_pod = self.pods[0]
        check_credentials(load_pod, role, token)
        k["threads_default"] = "GOMAXPROCS unset"
        k["all"] = self.load("kube2iam", agent.procs, role, token, load_pod, modes=("get",))
        k["rss_kib"]["110_after_load"] = agent.procs.rss_kib()
        k["rss_detail"]["110_after_load"] = rss_detail(agent.proc.pid)
        k["sts_first_runs"] = self.sts.counts("AssumeRole")
        self.stop_kube2iam()
        log("kube2iam with GOMAXPROCS=1")
        agent = self.start_kube2iam(kube, gomaxprocs=1)
        check_credentials(load_pod, role, token)
        k["one"] = self.load("kube2iam GOMAXPROCS=1", agent.procs, role, token, load_pod,
                             rate=False, modes=("get",))
        self.stop_kube2iam()
        k["measured"] = True

    def kube2iam_big(self):
        """kube2iam started on podiam's node once it holds node_pods_big pods in a cluster of
        cluster_pods: start to listening (it listens after its caches synced) and RSS."""
        k = self.results["kube2iam"]
        log(f"kube2iam with {self.node_pods_big} pods on its node, {self.cluster_pods} in the "
            "cluster")
        agent = self.start_kube2iam(self.kube)
        k["ready_seconds_big"] = agent.ready_seconds
        time.sleep(2)
        k["rss_kib"][str(self.node_pods_big)] = agent.procs.rss_kib()
        k["rss_detail"][str(self.node_pods_big)] = rss_detail(agent.proc.pid)
        check_credentials(self.pods[0], self.role_of(0))
        self.stop_kube2iam()

    # -- 6. STS volume of a rollout ----------------------------------------------------------------
    def rollouts(self):
        """One Deployment's rollout_pods pods (one namespace, one ServiceAccount, one role) created
        on a node, per system; AssumeRole calls counted at the proxy. Each system gets a fresh
        Kubernetes node (so it sees only its own rollout) in the same node namespace. The first
        `requesters` pods get the IPs of pod namespaces and each asks for its credentials once
        (kube2iam fetches only on a request); the others get unused IPs and never ask."""
        n = self.rollout_pods
        requesters = min(n, len(self.pods))
        out = self.results["rollout"] = {"pods": n, "requesters": requesters, "role": ROLES[0],
                                         "rows": []}
        rows = [("podiam (default: one session per pod)", "podiam", ())]
        if self.args.podiam_args:
            extra = tuple(self.args.podiam_args.split())
            rows.append((f"podiam {' '.join(extra)}", "podiam", extra))
        if self.args.kube2iam:
            rows.append(("kube2iam (one session per role)", "kube2iam", ()))
        for label, system, extra in rows:
            row = {"label": label, "system": system, "args": list(extra)}
            out["rows"].append(row)
            if system == "podiam" and extra:
                missing = [f for f in extra if f.startswith("--") and
                           f.split("=", 1)[0] not in self.podiam_help]
                if missing:
                    row["skipped"] = (f"{Path(self.args.podiam).name} does not accept "
                                      f"{', '.join(missing)} (not in `podiam agent --help`)")
                    log(f"rollout {label}: skipped: {row['skipped']}")
                    continue
            try:
                row.update(self.rollout(label, system, extra, n, requesters))
            except Exception as e:  # noqa: BLE001 - a row that fails is reported, not fatal
                row["error"] = f"{type(e).__name__}: {e}"
                log(f"rollout {label}: failed: {row['error']}")
                self.stop_agent()
                self.stop_kube2iam()

    def rollout(self, label: str, system: str, extra: tuple, n: int, requesters: int) -> dict:
        ns = self.kube.create_namespace(unique("rollout"), annotations={
            ALLOWED_KEY: json.dumps(ROLES)})["metadata"]["name"]
        kube = Kube(self.cluster.rest, namespace=ns)
        kube.create_service_account("app")
        log(f"rollout: {label}: {n} pods of one Deployment on node {kube.node}")
        self.sts.reset_counts()
        if system == "podiam":
            os.environ["PODIAM_BUILD_DIR"] = str(Path(self.args.podiam).resolve().parent.parent)
            agent = Agent(self.cluster, kube, self.node, self.sts, extra)
            self.agent = agent
            agent.start(wait_ready=False)
            agent.wait_ready(timeout=120)
        else:
            self.start_kube2iam(kube)
        base = self.sts.counts("AssumeRole")  # start-up calls, if any
        role = ROLES[0]
        items = [(f"app-{i:05d}", self.pods[i].ip if i < requesters else new_ip(), role)
                 for i in range(n)]
        t0 = time.monotonic()
        self.create_objects(items, kube.node, namespace=ns, service_account="app")
        created = time.monotonic() - t0
        # Each requester asks once, as a starting workload's SDK does.
        failed = []

        def ask(pod):
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, _ = pod_http(pod, "GET", CREDS_PATH + role)
                except OSError:
                    status = 0
                if status == 200:
                    return
                if time.monotonic() > deadline:
                    failed.append(pod.name)
                    return
                time.sleep(0.05)

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(ask, self.pods[:requesters]))
        # Settled: no new AssumeRole for 3 s (at most 180 s after the pods were created).
        last, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 180
        while time.monotonic() < deadline:
            c = self.sts.counts("AssumeRole")
            if c != last:
                last, quiet_since = c, time.monotonic()
            elif time.monotonic() - quiet_since >= 3:
                break
            time.sleep(0.25)
        settled = time.monotonic() - t0
        issued = self.sts.issued()
        calls = self.sts.counts("AssumeRole") - base
        if system == "podiam":
            self.stop_agent()
        else:
            self.stop_kube2iam()
        return {"assume_role": calls, "created_seconds": created, "settled_seconds": settled,
                "sessions": len({v["session"] for v in issued.values()}),
                "requests_failed": len(failed), "namespace": ns}

    def sts_and_fill(self, p: dict):
        # Refresh period = lifetime - refresh_before - U(0, 0.1 * refresh_before) (jitter), and
        # refresh_before must stay above the broker's 15 min floor. The agent refuses to *ask* for
        # so short a lifetime (--session-duration must be at least refresh-before + 20 min), so
        # it asks for 35m10s and the STS proxy shortens what comes back to 18m10s (expire_in):
        # the broker schedules from the Expiration STS returned, giving 89..180 s instead of the
        # defaults' 1620..1800 s.
        session, before = 1090, 910
        log(f"STS schedule: credentials living {session}s (proxy expire_in), --refresh-before "
            f"{before}s, {self.sts_window:.0f} s window; filling the cluster meanwhile")
        self.sts.reset_counts()
        self.sts.fault("expire_in", action="AssumeRole", seconds=session)
        agent = self.start_agent("--session-duration", "35m10s", "--refresh-before", "15m10s")
        t_start = time.time()
        # RSS of an agent started on a node that already has node_pods_mid pods (the list, the
        # prefetch of every pod's credentials), before the cluster is filled.
        deadline = time.monotonic() + 60
        while self.sts.counts("AssumeRole") < self.first_pods and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        p["rss_kib"]["110_restart"] = agent.procs.rss_kib()
        p["rss_detail"]["110_restart"] = rss_detail(agent.proc.pid)
        fill_box = {}
        fill = threading.Thread(target=lambda: fill_box.update(self._fill_safe()), daemon=True)
        fill.start()
        time.sleep(max(0.0, self.sts_window - (time.time() - t_start)))
        t_end = time.time()
        calls = self.sts.requests("AssumeRole")
        counts = self.sts.counts()
        self.stop_agent()
        self.sts.clear_faults()
        fill.join()
        if "error" in fill_box:
            raise fill_box["error"]
        p["fill_seconds"] = fill_box.get("seconds")
        by_session: dict[str, list[float]] = {}
        for c in calls:
            by_session.setdefault(c["params"].get("RoleSessionName", "?"), []).append(c["time"])
        intervals = [b - a for ts in by_session.values() for a, b in zip(sorted(ts), sorted(ts)[1:])]
        p["sts"] = {
            "session_seconds": session, "refresh_before_seconds": before,
            "window_seconds": t_end - t_start, "counts": counts,
            "assume_role": len(calls), "sessions": len(by_session),
            "roles": len({c["params"].get("RoleArn") for c in calls}),
            "refreshes": len(calls) - len(by_session),
            "interval_mean": statistics.mean(intervals) if intervals else None,
            "interval_min": min(intervals) if intervals else None,
            "interval_max": max(intervals) if intervals else None,
            "recorded_max": 500,
        }

    def _fill_safe(self) -> dict:
        try:
            t0 = time.monotonic()
            self.fill_cluster()
            return {"seconds": time.monotonic() - t0}
        except Exception as e:  # noqa: BLE001 - re-raised by the caller
            return {"error": e}

    def fill_cluster(self):
        """node_pods_big pods on the agent's node (distinct IPs, no role: API objects that never
        make requests) and the rest of cluster_pods on 20 other nodes (no IP)."""
        node_pods = [(self.pod_name(i), new_ip(), None)
                     for i in range(self.node_pods_mid, self.node_pods_big)]
        self.create_objects(node_pods, self.kube.node)
        others = self.cluster_pods - self.node_pods_big
        nodes = [self.kube.create_node() for _ in range(20)]
        items = [(f"o{i:05d}", None, None, nodes[i % len(nodes)]) for i in range(others)]
        local = threading.local()

        def one(item):
            name, _, _, node = item
            if not hasattr(local, "kube"):
                local.kube = Kube(Rest(self.cluster.server, self.cluster.admin_token,
                                       self.cluster.ca_file), namespace=self.ns)
            local.kube.create_pod(name=name, node=node)

        with ThreadPoolExecutor(6) as ex:
            list(ex.map(one, items))

    def informer_bench(self) -> dict | None:
        binary = Path(self.args.podiam).resolve().parent.parent / "bench" / "podiam_bench_k8s_informer"
        if not binary.exists():
            return None
        log("podiam_bench_k8s_informer (10,000 realistic pods)")
        out = subprocess.run([str(binary), "--benchmark_format=json",
                              "--benchmark_filter=BM_InformerListIngest|BM_InformerWatchIngest|BM_CacheMemory",
                              "--benchmark_min_time=0.5" if not self.args.quick else "--benchmark_min_time=0.05"],
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            log(f"informer bench failed: {out.stderr[-2000:]}")
            return None
        doc = json.loads(out.stdout)
        res = {}
        for b in doc["benchmarks"]:
            res[b["name"]] = {k: v for k, v in b.items()
                              if isinstance(v, (int, float)) and k not in ("repetitions", "threads")}
            res[b["name"]]["time_unit"] = b.get("time_unit")
        return res


def pcts(values: list[float]) -> dict:
    v = sorted(values)

    def q(p):  # nearest rank: the smallest value with at least p % of the values at or below it
        return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]

    return {"p50": q(50), "p99": q(99), "max": v[-1], "mean": statistics.mean(v), "min": v[0]}


def machine_facts(podiam: str) -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "cmd"],
                           capture_output=True, text=True).stdout.strip()
    v = subprocess.run([podiam, "--version"], capture_output=True, text=True)
    version = (v.stdout or v.stderr).strip().splitlines()[0] if v.returncode == 0 else "?"
    return {
        "cpu": cpu, "cpus": os.cpu_count(), "kernel": f"{platform.system()} {platform.release()}",
        "nginx": nginx_v.replace("nginx version: ", ""), "wrk": wrk_version(),
        "podiam_sha": sha + ("+dirty" if dirty else ""), "podiam_version": version,
        "compiler": subprocess.run(["c++", "--version"], capture_output=True,
                                   text=True).stdout.splitlines()[0],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--podiam", required=True, help="the podiam binary (Release build)")
    ap.add_argument("--out", required=True, help="JSON results file")
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--kube2iam", default="", help="kube2iam binary (skipped when empty)")
    ap.add_argument("--kube2iam-note", default="", help="why kube2iam is not measured")
    ap.add_argument("--kube2iam-version", default="",
                    help="what the kube2iam binary is (commit, Go version), for the report")
    ap.add_argument("--podiam-args", default="--session-scope=service-account",
                    help="extra agent flags for a second podiam row of the rollout measurement "
                         "(skipped with a note when `podiam agent --help` lacks one; '' = no row)")
    ap.add_argument("--rollout-pods", type=int, default=1000,
                    help=f"pods in the rollout measurement (at most {ROLLOUT_PODS_MAX})")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rate-connections", type=int, default=50)
    ap.add_argument("--rate-delay-ms", type=int, default=10)
    ap.add_argument("--sts-window", type=float, default=240.0)
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up in `finally`
    bench = Bench(args)
    t0 = time.monotonic()
    try:
        bench.results["machine"] = machine_facts(args.podiam)
        note = args.kube2iam_note or ("no kube2iam binary given (`scripts/bench --kube2iam PATH` "
                                      "takes one built by hand)")
        bench.results["kube2iam"] = {"measured": False, "note": note}
        if args.kube2iam:
            bench.results["kube2iam"].update(binary=args.kube2iam,
                                             version=args.kube2iam_version or "kube2iam")
        bench.setup()
        bench.run()
    finally:
        bench.close()
    bench.results["seconds"] = time.monotonic() - t0
    bench.results["params"] = {
        "duration": bench.duration, "warmup": bench.warmup, "connections": args.connections,
        "rate_connections": args.rate_connections, "rate_delay_ms": args.rate_delay_ms,
        "sts_window": bench.sts_window, "rollout_pods": bench.rollout_pods}
    Path(args.out).write_text(json.dumps(bench.results, indent=1, default=str))
    log(f"done in {bench.results['seconds']:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
