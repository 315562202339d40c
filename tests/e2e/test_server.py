"""`podiam server` end to end (issue 17; docs/server.md): the server on loopback HTTPS over the
real apiserver (v1.36) and moto behind the counting STS proxy, with deploy/server's RBAC (not the
admin token). Agent identities are real pod-bound TokenRequest tokens (audience podiam-server) of
an agent ServiceAccount bound to "agent pods" whose spec.nodeName is node A or node B: the
apiserver names that node in the review's status.user.extra, which is what binds an agent to its
node. Requests are made directly with `requests`, trusting only the test CA.

One server, apiserver and namespace per module; each test makes its own pods. The last test runs
the whole chain: a real agent in server mode in a node namespace, and pods' SDKs behind it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml
from podiam_testenv import gosdk, paths
from podiam_testenv.agent import MOTO_SESSION_TOKEN_PREFIX, node_agent_env, podiam_binary, stop_group
from podiam_testenv.cluster import ApiError
from podiam_testenv.imds_client import (ACCOUNT, ALLOWED, WHOAMI_PY, assumed, namespace,
                                        run_pod)
from podiam_testenv.kube import Kube, unique
from podiam_testenv.moto import free_port
from podiam_testenv.netns import Relay
from podiam_testenv.webhook import WebhookCerts

pytestmark = pytest.mark.e2e

DEPLOY = paths.REPO / "deploy" / "server"
ROLE_KEY = "iam.amazonaws.com/role"
AUDIENCE = "podiam-server"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def apply_server_rbac(cluster) -> None:
    """The ServiceAccount, ClusterRole and bindings from deploy/server, created or replaced."""
    urls = {"ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
            "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"}
    for path in ("serviceaccount.yaml", "rbac.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / path).read_text()):
            url = urls[doc["kind"]].format(ns=doc["metadata"].get("namespace", ""))
            try:
                cluster.rest.post(url, doc)
            except ApiError as e:
                if e.status != 409:
                    raise
                if doc["kind"] != "ServiceAccount":
                    cluster.rest.put(f"{url}/{doc['metadata']['name']}", doc)


class Server:
    """`podiam server` as a host process on 127.0.0.1, with the podiam-server ServiceAccount's
    token in its kubeconfig and its own AWS keys in the environment."""

    def __init__(self, cluster, kube: Kube, sts, certs: WebhookCerts, args: tuple[str, ...]):
        self.cluster, self.kube, self.sts, self.certs = cluster, kube, sts, certs
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-server-"))
        self.log_path = self.dir / "server.log"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.args = args
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Server":
        apply_server_rbac(self.cluster)
        self.sa_token = self.kube.request_token("podiam-server", audiences=(),
                                                namespace="kube-system", expiration_seconds=3600)
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
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited:\n{self.log_tail()}"
            try:
                if self.get("/readyz").status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready in 60 s:\n{self.log_tail()}")

    def stop(self) -> int:
        code = stop_group(self.proc)
        self.log.close()
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, verify=self.certs.ca_file, timeout=10)

    def ask(self, token: str | None, body, headers: dict | None = None) -> requests.Response:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
        return requests.post(self.url + "/v1/credentials", data=data, headers=h,
                             verify=self.certs.ca_file, timeout=15)

    def metric(self, name: str, labels: str = "") -> float:
        prefix = f"{name}{{{labels}}}" if labels else name
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(prefix + " "):
                return float(line.split()[-1])
        return 0.0


class Setup:
    """Two Node objects, an agent ServiceAccount with one "agent pod" on each, their pod-bound
    tokens, another ServiceAccount's token, and the namespace the tests' pods go in."""

    def __init__(self, cluster):
        self.kube = Kube(cluster.rest)
        self.ns = self.kube.create_namespace(
            unique("server"), annotations={ALLOWED: json.dumps(["srv-*"])})["metadata"]["name"]
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

    def agent_token(self, node: str) -> str:
        pod = self.kube.run_pod(name=unique("agent"), node=node, service_account="podiam-agent")
        return self.kube.request_token("podiam-agent", audiences=(AUDIENCE,), pod=pod)

    def close(self):
        self.kube.delete_namespace(self.ns)
        for node in self.kube.created_nodes:
            self.kube.delete_node(node)


@pytest.fixture(scope="module")
def setup(cluster):
    s = Setup(cluster)
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(cluster, sts, setup, tmp_path_factory):
    certs = WebhookCerts(tmp_path_factory.mktemp("server-certs"))
    srv = Server(cluster, setup.kube, sts, certs,
                 ("--agent-service-account", f"{setup.ns}:podiam-agent",
                  "--base-role-arn", f"arn:aws:iam::{ACCOUNT}:role/")).start()
    yield srv
    code = srv.stop()
    text = srv.log_text()
    assert "ERROR: AddressSanitizer" not in text, srv.log_tail(120)
    assert "runtime error:" not in text, srv.log_tail(120)
    assert "node-agent-secret-not-for-pods" not in text
    assert MOTO_SESSION_TOKEN_PREFIX not in text, "a session token in the server log"
    for token in (setup.token_a, setup.token_b, setup.token_other, srv.sa_token):
        assert token[20:60] not in text, "a ServiceAccount token in the server log"
    assert code == 0, f"server exit code {code}:\n{srv.log_tail()}"


def app_pod(setup, node: str, role: str | None = "srv-app") -> dict:
    annotations = {ROLE_KEY: role} if role else None
    return setup.kube.run_pod(name=unique("web"), node=node, service_account="app",
                              annotations=annotations)


def body(pod: dict, role: str = "srv-app") -> dict:
    m = pod["metadata"]
    return {"namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
            "roleArn": role_arn(role)}


def ask_until(server, token, payload, want: int, timeout: float = 15.0) -> requests.Response:
    """The server learns pods from its watch (or reads them directly): ask until `want`."""
    deadline = time.monotonic() + timeout
    while True:
        r = server.ask(token, payload)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_apiserver_binds_agent_tokens_to_their_node(setup):
    status = setup.kube.token_review(setup.token_a, audiences=(AUDIENCE,))
    assert status["authenticated"] is True
    extra = status["user"]["extra"]
    assert extra["authentication.kubernetes.io/node-name"] == [setup.node_a]


def test_node_a_agent_gets_its_own_pods_credentials(server, setup, sts):
    pod = app_pod(setup, setup.node_a)
    r = ask_until(server, setup.token_a, body(pod), 200)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["roleArn"] == role_arn("srv-app")
    creds = j["credentials"]
    assert creds["AccessKeyId"] and creds["SecretAccessKey"] and creds["SessionToken"]
    assert creds["Expiration"].endswith("Z")
    issued = sts.issued(creds["AccessKeyId"])
    assert issued is not None, "moto did not issue these credentials through the proxy"
    assert issued["action"] == "AssumeRole" and issued["role_arn"] == role_arn("srv-app")
    assert j["sessionName"] == issued["session"]
    assert j["assumedRoleUser"]["arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/srv-app/{issued['session']}")
    # Served again from the broker's cache: no second AssumeRole for this pod's session (the
    # proxy is shared with the whole suite, and the server prefetches every pod in the cluster).
    def calls() -> int:
        return sum(1 for r in sts.requests("AssumeRole")
                   if r["params"].get("RoleSessionName") == issued["session"])

    before = calls()
    assert server.ask(setup.token_a, body(pod)).json()["credentials"] == creds
    assert calls() == before


def test_node_a_agent_is_refused_node_b_pods_credentials(server, setup, sts):
    pod = app_pod(setup, setup.node_b)
    ask_until(server, setup.token_b, body(pod), 200)  # the server knows the pod
    before = server.metric("podiam_server_refusals_total", 'reason="pod_not_on_node"')
    r = server.ask(setup.token_a, body(pod))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "PodNotOnNode"
    assert r.json()["retryable"] is False
    assert "credentials" not in r.json() and "AccessKeyId" not in r.text
    assert server.metric("podiam_server_refusals_total",
                         'reason="pod_not_on_node"') == before + 1
    assert "agent asked for a pod on another node" in server.log_text()

    def event():
        items = setup.kube.rest.get(f"/api/v1/namespaces/{setup.ns}/events")["items"]
        return [e for e in items if e.get("reason") == "PodNotOnNode"
                and e["involvedObject"]["name"] == pod["metadata"]["name"]]

    deadline = time.monotonic() + 15
    while not event() and time.monotonic() < deadline:
        time.sleep(0.2)
    found = event()
    assert found, "no PodNotOnNode Event on the pod"
    assert found[0]["type"] == "Warning" and setup.node_a in found[0]["message"]


def test_another_service_accounts_token_is_not_an_agent(server, setup):
    pod = app_pod(setup, setup.node_a)
    r = server.ask(setup.token_other, body(pod))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "NotAnAgent"


def test_no_or_bad_token_is_401(server, setup):
    pod = app_pod(setup, setup.node_a)
    for token in (None, "", "not-a-jwt", setup.token_a[:-8] + "AAAAAAAA"):
        r = server.ask(token, body(pod))
        assert r.status_code == 401, (token, r.text)
        assert r.json()["code"] == "Unauthorized"
    # A token for another audience is not an agent's.
    wrong = setup.kube.request_token("podiam-agent", audiences=("sts.amazonaws.com",))
    assert server.ask(wrong, body(pod)).status_code == 401


def test_garbage_body_is_400(server, setup):
    for payload in ("{", "[]", json.dumps({"namespace": setup.ns}), "x" * 5000):
        r = server.ask(setup.token_a, payload)
        assert r.status_code == 400, (payload[:20], r.text)
        assert r.json()["code"] == "BadRequest"


def test_unknown_pod_is_404(server, setup):
    pod = app_pod(setup, setup.node_a)
    wrong_uid = {**body(pod), "uid": "00000000-0000-0000-0000-000000000000"}
    assert server.ask(setup.token_a, wrong_uid).json()["code"] == "PodNotFound"
    missing = {**body(pod), "name": "no-such-pod"}
    r = server.ask(setup.token_a, missing)
    assert r.status_code == 404 and r.json()["code"] == "PodNotFound"


def test_denied_role_is_403_and_the_servers_decision_wins(server, setup, sts):
    denied = app_pod(setup, setup.node_a, role="forbidden-role")
    r = ask_until(server, setup.token_a, body(denied, "forbidden-role"), 403)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "RoleDenied"
    none = app_pod(setup, setup.node_a, role=None)
    r = ask_until(server, setup.token_a, body(none), 404)
    assert r.json()["code"] == "NoRole"
    pod = app_pod(setup, setup.node_a)
    r = ask_until(server, setup.token_a, body(pod, "srv-other"), 409)
    assert r.status_code == 409 and r.json()["code"] == "RoleMismatch"
    assert r.json()["retryable"] is True
    assert not [i for i in sts.issued().values() if i["role_arn"] == role_arn("forbidden-role")]


def test_ops_endpoints_are_on_the_https_port(server):
    assert server.get("/healthz").status_code == 200
    assert server.get("/readyz").status_code == 200
    assert "podiam_server_requests_total" in server.get("/metrics").text


def test_pods_sdks_get_their_role_through_a_real_agent_and_the_server(
        server, setup, sts, kube, node, pods, start_agent, tmp_path):
    """The whole chain of issue 17: a pod's unmodified SDKs → the node's agent (`--server`, no AWS
    credentials of its own) → `podiam server` → STS. The agent's identity is the module's agent
    ServiceAccount, its token bound to an agent pod on the agent's node."""
    agent_pod = setup.kube.run_pod(name=unique("agent"), node=kube.node,
                                   service_account="podiam-agent")
    token_file = tmp_path / "server-token"
    token_file.write_text(setup.kube.request_token("podiam-agent", audiences=(AUDIENCE,),
                                                   pod=agent_pod))
    # The server as the node sees it: its loopback, same port (the certificate names 127.0.0.1).
    node._closing(Relay(("127.0.0.1", server.port), "127.0.0.1", server.port, node.name))
    agent = start_agent("--server", server.url, "--server-ca", str(server.certs.ca_file),
                        "--server-token-file", str(token_file))
    ns = namespace(kube, ["srv-*"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="srv-chain")
    want = assumed("srv-chain", ns, obj)
    assert json.loads(pod.python(WHOAMI_PY).stdout) == want  # boto3
    assert json.loads(pod.aws_cli(["sts", "get-caller-identity", "--output", "json"]).stdout)[
        "Arn"] == want
    assert json.loads(pod.node_js("whoami.mjs").stdout)["Arn"] == want
    assert json.loads(pod.run([gosdk.whoami_binary()]).stdout)["Arn"] == want
    # STS saw the role assumed (by the server: the agent made no STS call at all), and the agent
    # got it by asking the server.
    assert any(r["params"].get("RoleArn") == role_arn("srv-chain")
               for r in sts.requests("AssumeRole"))
    assert agent.metric("podiam_sts_calls_total") == 0
    assert agent.metric("podiam_server_client_requests_total", result="ok") >= 1
    assert server.metric("podiam_server_requests_total", 'code="200"') >= 1
