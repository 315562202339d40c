"""`podiam agent --server` (docs/agent.md, "Server mode"; issue 17, the agent side): a real agent
in a node namespace gets pods' credentials from a podiam server instead of STS. The server here
is a loopback HTTPS stub (http.server + ssl, a throwaway CA) that speaks protocol v1
(docs/server.md, "Agent protocol"), records requests and can be stopped.

Shown: a pod's unmodified boto3 gets the stub's credentials over IMDS and STS is never called;
with the stub down the pod keeps getting the cached credentials; of two URLs whose first is down,
the second serves; the Bearer token file is re-read after kubelet-style rotation; with
`--server-service` the agent finds the servers in EndpointSlices of the real apiserver, verifies
them as the Service's DNS name, follows the slice as it changes and fails over within it."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import time

import pytest
import yaml
from cryptography import x509
from podiam_testenv.imds_client import namespace, run_pod
from podiam_testenv import paths
from podiam_testenv.netns import NODE_IP
from podiam_testenv.pki import write_pki

pytestmark = pytest.mark.e2e

BOTO3_KEY_PY = """
import boto3, json
c = boto3.Session().get_credentials().get_frozen_credentials()
print(json.dumps({"key": c.access_key, "method": boto3.Session().get_credentials().method}))
"""


def make_certs(directory: Path, dns_names: tuple[str, ...] = ()) -> tuple[Path, Path, Path]:
    """A CA and a serving certificate for 127.0.0.1 and the node's address (the relay's), or,
    given `dns_names`, for those names only (as a Service's certificate)."""
    sans = ([x509.DNSName(n) for n in dns_names] if dns_names else
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address(NODE_IP))])
    return write_pki(directory, "podiam-server", sans=sans)


class ServerStub:
    """POST /v1/credentials answers 200 with fresh credentials for the asked role (or `fail_with`
    status); GET /readyz answers 200. Every credentials request is recorded."""

    def __init__(self, cert: Path, key: Path):
        self.cert, self.key = cert, key
        self.requests: list[dict] = []
        self.issued = 0
        self.fail_with: int | None = None
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def start(self) -> "ServerStub":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200 if self.path == "/readyz" else 404, {"ok": self.path == "/readyz"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with stub._lock:
                    stub.requests.append({"path": self.path,
                                          "authorization": self.headers.get("Authorization"),
                                          "body": body})
                    stub.issued += 1
                    n = stub.issued
                if stub.fail_with:
                    self._send(stub.fail_with, {"code": "Unavailable", "message": "stub failing",
                                                "retryable": True})
                    return
                expires = (datetime.datetime.now(datetime.timezone.utc)
                           + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                session = f"{body['namespace']}.{body['name']}"
                self._send(200, {
                    "roleArn": body["roleArn"], "sessionName": session,
                    "assumedRoleUser": {"arn": body["roleArn"].replace(":iam:", ":sts:")
                                        .replace(":role/", ":assumed-role/") + "/" + session,
                                        "assumedRoleId": f"AROASTUB:{session}"},
                    "credentials": {"AccessKeyId": f"ASIASTUB{n:08d}",
                                    "SecretAccessKey": f"stub-secret-{n}",
                                    "SessionToken": f"stub-token-{n}", "Expiration": expires}})

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def stub(tmp_path):
    ca, cert, key = make_certs(tmp_path)
    s = ServerStub(cert, key).start()
    s.ca_file = ca
    yield s
    s.stop()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("agent-token-1\n")
    return path


def server_url(node, stub) -> str:
    """The stub as the node sees it: a relay on the node's address (the certificate names it)."""
    return node.expose(f"http://127.0.0.1:{stub.port}").replace("http://", "https://")


def server_agent(start_agent, stub, token_file, *urls):
    return start_agent("--server", ",".join(urls), "--server-ca", str(stub.ca_file),
                       "--server-token-file", str(token_file))


def boto3_key(pod) -> str:
    return json.loads(pod.python(BOTO3_KEY_PY).stdout)["key"]


def test_pods_boto3_gets_the_servers_credentials_and_sts_is_never_called(
        kube, pods, node, start_agent, stub, token_file, sts):
    agent = server_agent(start_agent, stub, token_file, server_url(node, stub))
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app")
    assert boto3_key(pod).startswith("ASIASTUB")
    req = stub.requests[-1]
    assert req["path"] == "/v1/credentials"
    assert req["authorization"] == "Bearer agent-token-1"
    assert req["body"] == {"namespace": ns, "name": obj["metadata"]["name"],
                           "uid": obj["metadata"]["uid"],
                           "roleArn": "arn:aws:iam::123456789012:role/app"}
    assert sts.counts("AssumeRole") == 0
    assert sts.counts("GetCallerIdentity") == 0  # no AWS credentials of its own in server mode
    assert agent.metric("podiam_server_client_requests_total", result="ok") >= 1


def test_server_down_keeps_cached_credentials_served(kube, pods, node, start_agent, stub,
                                                     token_file):
    server_agent(start_agent, stub, token_file, server_url(node, stub))
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    first = boto3_key(pod)
    stub.stop()
    for _ in range(3):
        assert boto3_key(pod) == first


def test_first_url_down_second_serves(kube, pods, node, start_agent, stub, token_file):
    dead = f"https://{NODE_IP}:1"  # nothing listens: connection refused
    agent = server_agent(start_agent, stub, token_file, dead, server_url(node, stub))
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    assert boto3_key(pod).startswith("ASIASTUB")
    assert agent.metric("podiam_server_client_failovers_total") >= 1
    assert agent.metric("podiam_server_client_requests_total", result="transport_error") >= 1


def test_the_token_file_is_read_again_after_rotation(kube, pods, node, start_agent, stub,
                                                     token_file):
    server_agent(start_agent, stub, token_file, server_url(node, stub))
    ns = namespace(kube, ["app"])
    first, second = pods(2)
    run_pod(kube, first, ns, role="app")
    assert boto3_key(first).startswith("ASIASTUB")
    assert stub.requests[-1]["authorization"] == "Bearer agent-token-1"
    rotated = token_file.with_suffix(".new")
    rotated.write_text("agent-token-2\n")
    rotated.replace(token_file)  # atomically, as kubelet's projected volume does
    run_pod(kube, second, ns, role="app")
    assert boto3_key(second).startswith("ASIASTUB")
    assert stub.requests[-1]["authorization"] == "Bearer agent-token-2"


# ---- --server-service: the server's Service endpoints from EndpointSlices ---------------------

SERVICE = "podiam-server"


def grant_endpointslices(cluster, ns: str) -> None:
    """deploy/agent/server-mode's Role and RoleBinding, in `ns` instead of kube-system."""
    path = paths.REPO / "deploy" / "agent" / "server-mode" / "rbac-endpointslices.yaml"
    for doc in yaml.safe_load_all(path.read_text()):
        doc["metadata"]["namespace"] = ns
        plural = {"Role": "roles", "RoleBinding": "rolebindings"}[doc["kind"]]
        cluster.rest.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{plural}", doc)


def endpoint(port_url: str, ready: bool = True, serving: bool | None = None,
             terminating: bool = False) -> dict:
    host = port_url.split("//", 1)[1].rsplit(":", 1)[0]
    serving = ready if serving is None else serving
    return {"addresses": [host],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}


class Slice:
    """One EndpointSlice of the Service, all its endpoints on one port number per URL: the stubs
    are relays on the node's address, one port each, so each endpoint gets its own slice."""

    def __init__(self, cluster, ns: str):
        self.cluster, self.ns = cluster, ns
        self.base = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"

    def set(self, name: str, url: str, **conditions) -> None:
        port = int(url.rsplit(":", 1)[1])
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": self.ns,
                             "labels": {"kubernetes.io/service-name": SERVICE,
                                        "endpointslice.kubernetes.io/managed-by": "podiam-e2e"}},
                "addressType": "IPv4",
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                "endpoints": [endpoint(url, **conditions)]}
        try:
            current = self.cluster.rest.get(f"{self.base}/{name}")
        except Exception:  # noqa: BLE001 - not there yet
            self.cluster.rest.post(self.base, body)
            return
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        self.cluster.rest.put(f"{self.base}/{name}", body)


def wait_for(what: str, predicate, agent, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout} s:\n{agent.log_tail()}")


def test_the_agent_finds_the_servers_in_the_services_endpointslices_and_follows_them(
        cluster, kube, pods, node, start_agent, token_file, tmp_path):
    ns = namespace(kube, ["app"])
    grant_endpointslices(cluster, ns)
    # The stubs' certificate names only the Service: the agent connects to the endpoints' IP and
    # must verify the certificate for NAME.NAMESPACE.svc.
    ca, cert, key = make_certs(tmp_path, dns_names=(f"{SERVICE}.{ns}.svc",))
    stubs = [ServerStub(cert, key).start(), ServerStub(cert, key).start()]
    try:
        # A is the one the agent tries first when both are ready (it orders them by URL).
        (url_a, stub_a), (url_b, stub_b) = sorted((server_url(node, s), s) for s in stubs)
        slices = Slice(cluster, ns)
        slices.set("srv-a", url_a)
        slices.set("srv-b", url_b, ready=False)  # starting: not tried
        agent = start_agent("--server-service", f"{ns}/{SERVICE}", "--server-ca", str(ca),
                            "--server-token-file", str(token_file))
        first, second, third = pods(3)
        run_pod(kube, first, ns, role="app")
        assert boto3_key(first).startswith("ASIASTUB")
        assert stub_a.requests and not stub_b.requests
        assert stub_a.requests[-1]["authorization"] == "Bearer agent-token-1"

        # A rolls away (terminating, no longer serving), B becomes ready: the agent follows and
        # no longer asks A.
        changes = agent.log_text().count("podiam server endpoints changed")
        slices.set("srv-a", url_a, ready=False, serving=False, terminating=True)
        slices.set("srv-b", url_b)
        wait_for("the slice change", lambda: agent.log_text().count(
            "podiam server endpoints changed") >= changes + 2, agent)
        asked_a = len(stub_a.requests)
        obj = run_pod(kube, second, ns, role="app")
        assert boto3_key(second).startswith("ASIASTUB")
        assert obj["metadata"]["name"] in [r["body"]["name"] for r in stub_b.requests]
        assert len(stub_a.requests) == asked_a

        # Both ready, and A (first in the agent's order) failing: it fails over to B.
        stub_a.fail_with = 503
        slices.set("srv-a", url_a)
        wait_for("both endpoints", lambda: agent.log_text().count(
            "podiam server endpoints changed") >= changes + 3, agent)
        obj = run_pod(kube, third, ns, role="app")
        assert boto3_key(third).startswith("ASIASTUB")
        assert obj["metadata"]["name"] in [r["body"]["name"] for r in stub_a.requests]
        assert obj["metadata"]["name"] in [r["body"]["name"] for r in stub_b.requests]
        assert agent.metric("podiam_server_client_requests_total", result="server_error") >= 1
        assert agent.metric("podiam_server_client_failovers_total") >= 1
        assert agent.metric("podiam_sts_calls_total") == 0
    finally:
        for stub in stubs:
            stub.stop()
