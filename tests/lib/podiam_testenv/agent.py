"""`podiam agent` under test: run inside a node network namespace, with the deploy/agent RBAC.

The agent gets exactly what it gets in a cluster: a ServiceAccount token bound to the
ClusterRole in deploy/agent/rbac.yaml (not the admin token), the apiserver at its real address
(relayed onto the node namespace's loopback so the serving certificate still matches), STS
through the counting fault proxy, and its own AWS keys from the environment. It installs the
DNAT rule for 169.254.169.254 itself (--iptables), so pods reach it exactly as in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from . import paths
from .cluster import ApiError, Cluster
from .kube import Kube
from .netns import NODE_IP, NODE_VETH_PREFIX, Node, Relay

DEPLOY = paths.REPO / "deploy" / "agent"
BASE_ROLE_ARN = "arn:aws:iam::123456789012:role/"
AGENT_PORT = 8181
OPS_PORT = 9620
MOTO_SESSION_TOKEN_PREFIX = "FQoGZXIvYXdzEBYaD"  # moto/sts/utils.py: every session token


def build_dir() -> Path:
    return Path(os.environ.get("PODIAM_BUILD_DIR") or paths.REPO / "build")


def podiam_binary() -> Path:
    binary = build_dir() / "bin" / "podiam"
    if not binary.exists():
        raise RuntimeError(f"{binary} not built; run scripts/test or ninja -C {build_dir()}")
    return binary


def sanitized() -> bool:
    """True when the podiam under test is the ASan+UBSan build: memory figures then measure the
    sanitizer's shadow memory and quarantine, not podiam."""
    cache = build_dir() / "CMakeCache.txt"
    return cache.exists() and "PODIAM_SANITIZE:BOOL=ON" in cache.read_text(errors="replace")


def apply_agent_rbac(cluster: Cluster) -> None:
    """Creates (or replaces) the ServiceAccount, ClusterRole and binding from deploy/agent."""
    rest = cluster.rest
    for path in ("serviceaccount.yaml", "rbac.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / path).read_text()):
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind == "ServiceAccount":
                url = f"/api/v1/namespaces/{doc['metadata']['namespace']}/serviceaccounts"
            elif kind == "ClusterRole":
                url = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
            elif kind == "ClusterRoleBinding":
                url = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
            else:
                raise ValueError(f"unexpected kind {kind} in {path}")
            try:
                rest.post(url, doc)
            except ApiError as e:
                if e.status != 409:
                    raise
                if kind != "ServiceAccount":
                    rest.put(f"{url}/{name}", doc)


def node_agent_env(home: Path) -> dict[str, str]:
    """The environment every credential agent under test gets (podiam, and kube2iam in the
    benchmark): the node's own AWS keys, a region, and no metadata service for itself."""
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "node-agent-secret-not-for-pods",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
    """Signals the process group of `proc` (SIGKILL after `timeout`) and returns its exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Agent:
    def __init__(self, cluster: Cluster, kube: Kube, node: Node, sts, args: tuple[str, ...] = (),
                 command: list[str] | None = None, service_account: tuple[str, str] | None = None,
                 env: dict[str, str] | None = None):
        """`command`: run `podiam <command> --kubeconfig K --sts-endpoint S` instead of the
        harness's own flags (the args of an installed DaemonSet); `service_account`: (namespace,
        name) whose token the agent uses, with that ServiceAccount's RBAC as installed (default:
        kube-system/podiam-agent with deploy/agent's RBAC applied); `env`: added to the agent's
        environment (what the DaemonSet's env gives it)."""
        self.cluster, self.kube, self.node, self.sts = cluster, kube, node, sts
        self.args = tuple(args)
        self.command = command
        self.service_account = service_account
        self.extra_env = dict(env or {})
        self.node_name = kube.node
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-agent-"))
        self.log_path = self.dir / "agent.log"
        self.proc: subprocess.Popen | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, wait_ready: bool = True) -> "Agent":
        if self.service_account is None:
            apply_agent_rbac(self.cluster)
        sa_namespace, sa_name = self.service_account or ("kube-system", "podiam-agent")
        token = self.sa_token = self.kube.request_token(
            sa_name, audiences=(), namespace=sa_namespace, expiration_seconds=3600)
        self._ensure_api_relay()
        kubeconfig = self.dir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "agent",
            "clusters": [{"name": "test", "cluster": {
                "server": self.cluster.server, "certificate-authority": self.cluster.ca_file}}],
            "users": [{"name": "podiam-agent", "user": {"token": token}}],
            "contexts": [{"name": "agent", "context": {"cluster": "test", "user": "podiam-agent"}}],
        }))
        sts_endpoint = self.node.expose(self.sts.endpoint)
        # PODIAM_AGENT_WRAPPER="gdb -batch -ex run -ex bt --args" runs the agent under a debugger.
        wrapper = os.environ.get("PODIAM_AGENT_WRAPPER", "").split()
        if self.command is not None:
            cmd = [*wrapper, podiam_binary(), *self.command, "--kubeconfig", kubeconfig,
                   "--sts-endpoint", sts_endpoint, *self.args]
        else:
            cmd = [*wrapper, podiam_binary(), "agent",
                   "--kubeconfig", kubeconfig,
                   "--node", self.node_name,
                   "--listen", f"{NODE_IP}:{AGENT_PORT}",
                   "--metrics-listen", f"127.0.0.1:{OPS_PORT}",
                   "--sts-endpoint", sts_endpoint,
                   "--base-role-arn", BASE_ROLE_ARN,
                   "--iptables", "--host-interface", f"{NODE_VETH_PREFIX}+", "--host-ip", NODE_IP,
                   *self.args]
        env = {
            **node_agent_env(self.dir),
            # Debug logging in tests, so that the secrets-in-log check at teardown covers it.
            "PODIAM_LOG_LEVEL": os.environ.get("PODIAM_AGENT_LOG_LEVEL", "debug"),
            **self.extra_env,
        }
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = self.node.popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_ready()
        return self

    def _ensure_api_relay(self) -> None:
        """The apiserver on the node's own loopback, same port: its certificate names 127.0.0.1.
        Not while cut_apiserver() holds it."""
        if getattr(self.node, "_podiam_api_relay", None) or getattr(self.node, "_podiam_api_cut", False):
            return
        api = urlsplit(self.cluster.server)
        self.node._podiam_api_relay = self.node._closing(
            Relay((api.hostname, api.port), "127.0.0.1", api.port, self.node.name))

    def cut_apiserver(self) -> None:
        """Agents on this node lose the apiserver: its relay stops listening (connection refused)
        and drops its connections, watches included, while the apiserver itself keeps running —
        so a test can change pods no agent sees, or start an agent that cannot sync. Agents
        started meanwhile stay cut too. restore_apiserver() undoes it."""
        self.node._podiam_api_cut = True
        relay = getattr(self.node, "_podiam_api_relay", None)
        self.node._podiam_api_relay = None
        if relay:
            relay.close()

    def restore_apiserver(self) -> None:
        self.node._podiam_api_cut = False
        self._ensure_api_relay()

    def process_stats(self) -> dict:
        """The agent process's resident memory (VmRSS, KiB), open file descriptors and threads,
        from /proc (the agent is exec'ed by `ip netns exec`, so proc.pid is podiam itself)."""
        pid = self.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {"rss_kb": int(fields["VmRSS"].split()[0]),
                "fds": len(os.listdir(f"/proc/{pid}/fd")),
                "threads": int(fields["Threads"])}

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"podiam agent exited with {self.proc.returncode}:\n{self.log_tail()}")
            status, body = self.ops("/readyz")
            if status == 200:
                return
            last = f"{status} {body}"
            time.sleep(0.1)
        raise AssertionError(f"podiam agent not ready after {timeout} s ({last}):\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.proc is None:
            return None
        code = stop_group(self.proc, sig, timeout)
        self.log.close()
        return code

    # -- observing ------------------------------------------------------------------------------
    def ops(self, path: str) -> tuple[int, str]:
        """GET on the ops listener (inside the node namespace)."""
        r = self.node.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "2",
                           f"http://127.0.0.1:{OPS_PORT}{path}"], check=False)
        body, _, code = r.stdout.rpartition("\n")
        return (int(code) if code.isdigit() else 0), body

    def metrics(self) -> str:
        status, body = self.ops("/metrics")
        assert status == 200, body
        return body

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            if series.split("{")[0] != name:
                continue
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def secrets_in_log(self) -> list[str]:
        """What must never be logged and was: the node's secret key, the agent's ServiceAccount
        token, or any session token moto issued (they all start with the same prefix)."""
        text = self.log_text()
        found = []
        if "node-agent-secret-not-for-pods" in text:
            found.append("the node's secret access key")
        if getattr(self, "sa_token", None) and self.sa_token[20:60] in text:
            found.append("the agent's ServiceAccount token")
        if MOTO_SESSION_TOKEN_PREFIX in text:
            found.append("a session token")
        return found
