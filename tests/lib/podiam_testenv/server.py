"""`podiam server` as a host process, and what a test needs around it (docs/server.md): the
server's RBAC from deploy/server, two Node objects with "agent pods" whose pod-bound tokens bind
an agent to its node, and a real `podiam agent --server` in a node namespace pointed at it.

Used by tests/e2e/test_server.py (the protocol and the whole chain) and
tests/e2e/test_server_outage.py (the server or STS down). Each module makes its own Server and
Setup (module scope), so that one module stopping its server does not disturb another.

    setup = Setup(cluster)
    srv = Server(cluster, setup.kube, sts, WebhookCerts(tmp), server_args(setup)).start()
    agent = start_chain_agent(setup, srv, kube, node, start_agent, tmp_path)
    srv.kill(); ...; srv.start()   # same address, a new process
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import yaml

from . import paths
from .agent import MOTO_SESSION_TOKEN_PREFIX, node_agent_env, podiam_binary, stop_group
from .cluster import ApiError
from .imds_client import ACCOUNT, ALLOWED
from .kube import Kube, unique
from .moto import free_port
from .netns import Relay
from .webhook import WebhookCerts

DEPLOY = paths.REPO / "deploy" / "server"
ROLE_KEY = "iam.amazonaws.com/role"
AUDIENCE = "podiam-server"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def apply_rbac(cluster, directory: Path, files: tuple[str, ...]) -> None:
    """The objects of `files` in `directory` (a deploy/ folder), created or replaced."""
    urls = {"ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
            "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"}
    for path in files:
        for doc in yaml.safe_load_all((directory / path).read_text()):
            if not doc or doc.get("kind") not in urls:
                continue
            url = urls[doc["kind"]].format(ns=doc["metadata"].get("namespace", ""))
            try:
                cluster.rest.post(url, doc)
            except ApiError as e:
                if e.status != 409:
                    raise
                if doc["kind"] != "ServiceAccount":
                    cluster.rest.put(f"{url}/{doc['metadata']['name']}", doc)


def apply_server_rbac(cluster) -> None:
    """The ServiceAccount, ClusterRole and bindings from deploy/server, created or replaced."""
    apply_rbac(cluster, DEPLOY, ("serviceaccount.yaml", "rbac.yaml"))


def spawn_until_ready(cmd, env: dict[str, str], log, get, log_tail, timeout: float = 60
                      ) -> subprocess.Popen:
    """Starts a `podiam server` process (its own process group, output to `log`) and returns it
    once get("/readyz") answers 200; AssertionError with the log's tail if it exits or is not
    ready within `timeout` seconds."""
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited:\n{log_tail()}"
        try:
            if get("/readyz").status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server not ready in {timeout} s:\n{log_tail()}")


class Server:
    """`podiam server` as a host process on 127.0.0.1, with the podiam-server ServiceAccount's
    token in its kubeconfig and its own AWS keys in the environment. start() again after stop()
    or kill() runs a new process on the same address (same port, certificate and arguments)."""

    def __init__(self, cluster, kube: Kube, sts, certs, args: tuple[str, ...],
                 client_cert: tuple[Path, Path] | None = None):
        self.cluster, self.kube, self.sts, self.certs = cluster, kube, sts, certs
        # (certificate, key) the test's own requests present: for a server started with --ca.
        self.client_cert = client_cert
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-server-"))
        self.log_path = self.dir / "server.log"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.sa_token: str | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> "Server":
        if self.sa_token is None:
            apply_server_rbac(self.cluster)
            self.sa_token = self.kube.request_token("podiam-server", audiences=(),
                                                    namespace="kube-system",
                                                    expiration_seconds=3600)
        kubeconfig = self.dir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "server",
            "clusters": [{"name": "test", "cluster": {
                "server": self.cluster.server, "certificate-authority": self.cluster.ca_file}}],
            "users": [{"name": "podiam-server", "user": {"token": self.sa_token}}],
            "contexts": [{"name": "server", "context": {"cluster": "test", "user": "podiam-server"}}],
        }))
        cmd = [podiam_binary(), "server", "--kubeconfig", str(kubeconfig),
               "--listen", f"127.0.0.1:{self.port}",
               "--cert", str(self.certs.cert_file), "--key", str(self.certs.key_file),
               "--sts-endpoint", self.sts.endpoint, *self.args]
        env = {**node_agent_env(self.dir), "PODIAM_LOG_LEVEL": "debug"}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.starts += 1
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.log.write(f"--- start {self.starts}\n".encode())
        self.log.flush()
        self.proc = spawn_until_ready(cmd, env, self.log, self.get, self.log_tail, timeout)
        return self

    def stop(self) -> int:
        code = stop_group(self.proc)
        self.log.close()
        return code

    def kill(self) -> int:
        """SIGKILL: no drain, no goodbye; open connections are reset by the kernel."""
        code = stop_group(self.proc, signal.SIGKILL)
        self.log.close()
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check_log(self, tokens=()) -> None:
        """No sanitizer report and no secret (node key, session token, any of `tokens`)."""
        text = self.log_text()
        assert "ERROR: AddressSanitizer" not in text, self.log_tail(120)
        assert "runtime error:" not in text, self.log_tail(120)
        assert "node-agent-secret-not-for-pods" not in text
        assert MOTO_SESSION_TOKEN_PREFIX not in text, "a session token in the server log"
        for token in (*tokens, self.sa_token):
            if token:
                assert token[20:60] not in text, "a ServiceAccount token in the server log"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, verify=self.certs.ca_file, cert=self.client_cert,
                            timeout=10)

    def ask(self, token: str | None, body, headers: dict | None = None) -> requests.Response:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
        return requests.post(self.url + "/v1/credentials", data=data, headers=h,
                             verify=self.certs.ca_file, cert=self.client_cert, timeout=15)

    def metric(self, name: str, labels: str = "") -> float:
        prefix = f"{name}{{{labels}}}" if labels else name
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(prefix + " "):
                return float(line.split()[-1])
        return 0.0


class Setup:
    """Two Node objects, an agent ServiceAccount with one "agent pod" on each, their pod-bound
    tokens, another ServiceAccount's token, and the namespace the tests' pods go in (its
    allowed roles: `allowed`)."""

    def __init__(self, cluster, prefix: str = "server", allowed=("srv-*",)):
        self.kube = Kube(cluster.rest)
        self.ns = self.kube.create_namespace(
            unique(prefix), annotations={ALLOWED: json.dumps(list(allowed))})["metadata"]["name"]
        self.kube.namespace = self.ns
        self.node_a = self.kube.create_node(unique("srv-node-a"))
        self.node_b = self.kube.create_node(unique("srv-node-b"))
        self.kube.create_service_account("podiam-agent")
        self.kube.wait_service_account("podiam-agent")
        self.kube.create_service_account("app")
        self.kube.wait_service_account("app")
        self.token_a = self.agent_token(self.node_a)
        self.token_b = self.agent_token(self.node_b)
        other_pod = self.kube.run_pod(name=unique("not-agent"), node=self.node_a,
                                      service_account="app")
        self.token_other = self.kube.request_token("app", audiences=(AUDIENCE,), pod=other_pod)

    @property
    def tokens(self) -> tuple[str, ...]:
        return (self.token_a, self.token_b, self.token_other)

    def agent_token(self, node: str) -> str:
        pod = self.kube.run_pod(name=unique("agent"), node=node, service_account="podiam-agent")
        return self.kube.request_token("podiam-agent", audiences=(AUDIENCE,), pod=pod)

    def server_args(self) -> tuple[str, ...]:
        return ("--agent-service-account", f"{self.ns}:podiam-agent",
                "--base-role-arn", f"arn:aws:iam::{ACCOUNT}:role/")

    def close(self):
        self.kube.delete_namespace(self.ns)
        for node in self.kube.created_nodes:
            self.kube.delete_node(node)


def module_server(cluster, sts, setup: Setup, certs_dir: Path, extra_args: tuple[str, ...] = (),
                  client_cert: tuple[Path, Path] | None = None):
    """For a module-scoped fixture (`yield from`): a started Server with `setup`'s arguments (and
    `extra_args`; `client_cert` for the test's own requests); afterwards it is stopped and its
    log checked for sanitizer reports and secrets."""
    srv = Server(cluster, setup.kube, sts, WebhookCerts(certs_dir),
                 (*setup.server_args(), *extra_args), client_cert=client_cert).start()
    yield srv
    code = srv.stop()
    srv.check_log(setup.tokens)
    assert code == 0, f"server exit code {code}:\n{srv.log_tail()}"


def app_pod(setup: Setup, node: str, role: str | None = "srv-app") -> dict:
    annotations = {ROLE_KEY: role} if role else None
    return setup.kube.run_pod(name=unique("web"), node=node, service_account="app",
                              annotations=annotations)


def body(pod: dict, role: str = "srv-app") -> dict:
    m = pod["metadata"]
    return {"namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
            "roleArn": role_arn(role)}


def ask_until(server: Server, token, payload, want: int, timeout: float = 15.0):
    """The server learns pods from its watch (or reads them directly): ask until `want`."""
    deadline = time.monotonic() + timeout
    while True:
        r = server.ask(token, payload)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def start_chain_agent(setup: Setup, server: Server, kube, node, start_agent, tmp_path: Path,
                      *extra: str):
    """A real `podiam agent --server` on the test's node (`kube.node`): its identity is the
    setup's agent ServiceAccount, its token bound to a new agent pod on that node; the server is
    reached on the node's own loopback, same port (the certificate names 127.0.0.1). Returns
    (agent, token): the token lets a test ask the server as that agent."""
    agent_pod = setup.kube.run_pod(name=unique("agent"), node=kube.node,
                                   service_account="podiam-agent")
    token = setup.kube.request_token("podiam-agent", audiences=(AUDIENCE,), pod=agent_pod)
    token_file = tmp_path / "server-token"
    token_file.write_text(token)
    node._closing(Relay(("127.0.0.1", server.port), "127.0.0.1", server.port, node.name))
    agent = start_agent("--server", server.url, "--server-ca", str(server.certs.ca_file),
                        "--server-token-file", str(token_file), *extra)
    return agent, token
