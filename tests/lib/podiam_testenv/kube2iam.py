"""kube2iam (the benchmark peer) run on the same test environment as `podiam agent`.

The binary is never built or shipped by this repository: the caller names one built by hand
(`scripts/bench --kube2iam PATH`). It runs in a node network namespace like the agent
(tests/lib/podiam_testenv/agent.py): the agent's ServiceAccount token and RBAC, the apiserver
relayed onto the node's loopback, STS through the counting fault proxy (relayed into the node),
pods reaching 169.254.169.254:80 through the node's DNAT rule (made here: kube2iam runs with
--iptables=false), and the same namespace restriction annotation (--namespace-restrictions).

What kube2iam needs besides, all on node addresses only:
- An EC2 stub (ec2_stub.py) answering DescribeRegions with no regions, so that its STS client
  honours AWS_ENDPOINT_URL_STS (see that module).
- --metadata-addr: kube2iam reverse-proxies every path it does not serve (the IMDSv2 token PUT
  among them) to the node's metadata service. Here that is a node address where nothing
  listens, so those requests fail (502) and nothing is ever sent towards a real IMDS.
- AWS_EC2_METADATA_DISABLED, static test keys and AWS_REGION, so the SDK's default chain never
  looks anywhere else. Its health check (EC2 instance ID from IMDS) therefore fails; readiness
  here is "listening", which kube2iam reaches only after its pod and namespace caches synced.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from .agent import BASE_ROLE_ARN, Agent, apply_agent_rbac, log_tail, node_agent_env, stop_group
from .cluster import Cluster
from .ec2_stub import Ec2Stub
from .kube import Kube
from .netns import NODE_IP, Node, connect

KUBE2IAM_PORT = 8181
NO_METADATA_ADDR = f"{NODE_IP}:9"  # nothing listens there (see the module doc)


def kube2iam_version(binary: str | Path) -> str:
    """`kube2iam --version` (it prints and exits), first line; "?" if that fails."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else "?"


class Kube2iam:
    def __init__(self, binary: str | Path, cluster: Cluster, kube: Kube, node: Node, sts,
                 args: tuple[str, ...] = (), env: dict | None = None):
        self.binary = Path(binary).resolve()
        self.cluster, self.kube, self.node, self.sts = cluster, kube, node, sts
        self.args, self.extra_env = tuple(args), dict(env or {})
        self.node_name = kube.node
        self.dir = Path(tempfile.mkdtemp(prefix="kube2iam-"))
        self.log_path = self.dir / "kube2iam.log"
        self.proc: subprocess.Popen | None = None
        self.ec2 = Ec2Stub()
        self._ec2_server = None
        self._dnat_done = False

    def start(self, timeout: float = 60) -> "Kube2iam":
        apply_agent_rbac(self.cluster)
        token = self.kube.request_token(
            "podiam-agent", audiences=(), namespace="kube-system", expiration_seconds=3600)
        Agent._ensure_api_relay(self)  # the apiserver on the node's loopback (same address)
        kubeconfig = self.dir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "kube2iam",
            "clusters": [{"name": "test", "cluster": {
                "server": self.cluster.server, "certificate-authority": self.cluster.ca_file}}],
            "users": [{"name": "kube2iam", "user": {"token": token}}],
            "contexts": [{"name": "kube2iam", "context": {"cluster": "test", "user": "kube2iam"}}],
        }))
        sts_endpoint = self.node.expose(self.sts.endpoint)
        if self._ec2_server is None:
            self._ec2_server = self.node.serve_http(Ec2Stub.Handler, owner=self.ec2)
        if not getattr(self.node, "_kube2iam_dnat", False):
            self.node.redirect_imds(KUBE2IAM_PORT)
            self.node._kube2iam_dnat = True
        cmd = [self.binary,
               "--kubeconfig", kubeconfig,
               "--node", self.node_name,
               "--app-port", str(KUBE2IAM_PORT),
               "--host-ip", NODE_IP,
               "--base-role-arn", BASE_ROLE_ARN,
               "--iptables=false",
               "--namespace-restrictions=true",
               "--metadata-addr", NO_METADATA_ADDR,
               "--log-level", "warning",
               *self.args]
        env = {
            **node_agent_env(self.dir),
            "AWS_ENDPOINT_URL_STS": sts_endpoint,
            "AWS_ENDPOINT_URL_EC2": self._ec2_server.url,
            **self.extra_env,
        }
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.monotonic()
        self.proc = self.node.popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        self.ready_seconds = time.monotonic() - t0  # process start to listening
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """kube2iam listens only once its pod and namespace caches have synced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kube2iam exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                connect(NODE_IP, KUBE2IAM_PORT, self.node.name, 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"kube2iam not listening after {timeout} s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.proc is None:
            return None
        code = stop_group(self.proc, sig, timeout)
        self.log.close()
        return 0 if code in (-signal.SIGTERM, 143) else code  # Go dies of SIGTERM by default

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)
