"""`podiam server --ca` (kiam's mutual TLS, issue 17; docs/server.md "Trust model"): agents must
present a client certificate the CA signed, and that is checked in addition to the agent's
pod-bound token, never instead of it. A real `podiam agent --server-cert/--server-key` gets a
pod its role through such a server. Sharded replicas with `--ca` present their own serving
certificate to each other: when `--ca` trusts it, a non-owner gets keys from the owner; when it
does not, the handshake fails, is counted, and the non-owner calls STS itself (never an error).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from podiam_testenv.pki import write_pki
from podiam_testenv.imds_client import WHOAMI_PY, assumed, namespace, run_pod
from podiam_testenv.kube import unique
from podiam_testenv.server import (AUDIENCE, Server, Setup, app_pod, apply_server_rbac,
                                   ask_until, body, module_server, start_chain_agent)
from podiam_testenv.webhook import WebhookCerts

pytestmark = pytest.mark.e2e


def client_pki(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and one client certificate (clientAuth) it signed: (ca.pem, client.pem, client.key)."""
    return write_pki(directory, name, client=True, files=("ca.pem", "client.pem", "client.key"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return client_pki(tmp_path_factory.mktemp("agents-ca"), "agents")


@pytest.fixture(scope="module")
def setup(cluster):
    s = Setup(cluster, prefix="srv-mtls")
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(cluster, sts, setup, pki, tmp_path_factory):
    ca, cert, key = pki
    yield from module_server(cluster, sts, setup, tmp_path_factory.mktemp("server-certs"),
                             extra_args=("--ca", str(ca)), client_cert=(cert, key))


def handshake_failures(server) -> float:
    return server.metric("podiam_http_server_tls_handshake_failures_total", 'server="server"')


def test_no_client_certificate_is_refused_in_the_handshake(server, setup):
    before = handshake_failures(server)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(server.url + "/v1/credentials", json={},
                      headers={"Authorization": f"Bearer {setup.token_a}"},
                      verify=server.certs.ca_file, timeout=10)
    assert handshake_failures(server) >= before + 1


def test_a_certificate_from_another_ca_is_refused(server, setup, tmp_path):
    _, cert, key = client_pki(tmp_path / "other", "other")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(server.url + "/v1/credentials", json={},
                      headers={"Authorization": f"Bearer {setup.token_a}"},
                      verify=server.certs.ca_file, cert=(cert, key), timeout=10)


def test_the_certificate_does_not_replace_the_token(server, setup):
    """kiam trusted any agent with a certificate; here the certificate is only the first gate."""
    pod = app_pod(setup, setup.node_b)
    assert server.ask(None, body(pod)).status_code == 401
    assert server.ask(setup.token_other, body(pod)).status_code == 403
    # node A's agent, with a valid certificate, still gets nothing for node B's pod
    r = ask_until(server, setup.token_a, body(pod), 403)
    assert r.status_code == 403 and r.json()["code"] == "PodNotOnNode", r.text


def test_certificate_and_node_bound_token_get_the_pods_credentials(server, setup):
    pod = app_pod(setup, setup.node_a)
    r = ask_until(server, setup.token_a, body(pod), 200)
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["AccessKeyId"]


def test_a_real_agent_with_its_client_certificate_serves_a_pod(
        server, setup, pki, kube, node, pods, start_agent, tmp_path):
    _, cert, key = pki
    agent, _ = start_chain_agent(setup, server, kube, node, start_agent, tmp_path,
                                 "--server-cert", str(cert), "--server-key", str(key))
    ns = namespace(kube, ["srv-*"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="srv-mtls-chain")
    assert json.loads(pod.python(WHOAMI_PY).stdout) == assumed("srv-mtls-chain", ns, obj)
    assert agent.metric("podiam_server_client_requests_total", result="ok") >= 1



KEYS = 16  # roles asked through both replicas: each replica owns some with near certainty


def role(i: int) -> str:
    return f"srv-mtls-peer-{i}"


@pytest.fixture
def replica_pair(cluster, sts, setup, tmp_path):
    """start(certs, ca): two sharded replicas in a new membership group, serving with their own
    entry of `certs` and started with `--ca ca` (so `--peer-ca ca` too); the test's own requests
    present the first replica's certificate. Returns them once each sees the other; they are
    stopped, exit codes and logs checked, at the end of the test."""
    started: list[Server] = []
    token_file = tmp_path / "peer-token"

    def start(certs: tuple[WebhookCerts, WebhookCerts], ca: Path) -> list[Server]:
        apply_server_rbac(cluster)
        token_file.write_text(setup.kube.request_token(
            "podiam-server", audiences=(AUDIENCE,), namespace="kube-system"))
        prefix = unique("mtls")
        for i, c in enumerate(certs):
            srv = Server(cluster, setup.kube, sts, c, (),
                         client_cert=(certs[0].cert_file, certs[0].key_file))
            srv.args = (*setup.server_args(), "--ca", str(ca), "--identity", f"{prefix}-{i}",
                        "--membership-namespace", "kube-system",
                        "--membership-lease-prefix", prefix,
                        "--membership-lease-duration", "6s", "--membership-renew-period", "2s",
                        "--peer-url", srv.url, "--peer-token-file", str(token_file))
            started.append(srv.start())
        deadline = time.monotonic() + 20
        while not all(srv.metric("podiam_server_members") == 2 for srv in started):
            assert time.monotonic() < deadline, started[0].log_tail()
            time.sleep(0.5)
        return started

    yield start
    for srv in started:
        code = srv.stop()
        srv.check_log(setup.tokens)
        assert code == 0, f"server exit code {code}:\n{srv.log_tail()}"


def ask_every_key_through_both(setup, replicas: list[Server]) -> None:
    for i in range(KEYS):
        pod = app_pod(setup, setup.node_a, role=role(i))
        for srv in replicas:
            r = ask_until(srv, setup.token_a, body(pod, role(i)), 200)
            assert r.status_code == 200, (srv.url, r.text)


def peer(srv: Server, result: str) -> float:
    return srv.metric("podiam_server_peer_requests_total", f'result="{result}"')


def test_replicas_present_their_certificate_to_each_other(replica_pair, setup, tmp_path):
    """One CA signs both serving certificates (no extended key usage: fit for client auth too),
    and `--ca` is that CA: the non-owner of each key gets it from the owner over mutual TLS."""
    certs = WebhookCerts(tmp_path / "replicas")
    replicas = replica_pair((certs, certs), certs.ca_file)
    ask_every_key_through_both(setup, replicas)
    assert sum(peer(srv, "ok") for srv in replicas) >= 1, replicas[0].log_tail()
    for srv in replicas:
        assert peer(srv, "transport") == 0, srv.log_tail()
        assert srv.metric("podiam_server_peer_fallbacks_total") == 0, srv.log_tail()
        assert handshake_failures(srv) == 0, srv.log_tail()


def test_a_replica_certificate_the_ca_does_not_trust_falls_back_to_sts(replica_pair, setup,
                                                                       tmp_path):
    """The second replica's certificate comes from another CA than `--ca`: each replica refuses
    the other's handshake (or its serving certificate), counts it, and calls STS itself; every
    request still gets credentials."""
    good = WebhookCerts(tmp_path / "good")
    foreign = WebhookCerts(tmp_path / "foreign")
    replicas = replica_pair((good, foreign), good.ca_file)
    # The test's own requests to the second replica verify its certificate with its CA.
    ask_every_key_through_both(setup, replicas)
    assert sum(srv.metric("podiam_server_peer_fallbacks_total") for srv in replicas) >= 1
    assert sum(peer(srv, "ok") for srv in replicas) == 0
    assert sum(peer(srv, "transport") for srv in replicas) >= 1
    # The first replica refused the second's client certificate in the handshake.
    assert handshake_failures(replicas[0]) >= 1, replicas[0].log_tail()
    assert "owning replica did not answer" in replicas[0].log_text() + replicas[1].log_text()
