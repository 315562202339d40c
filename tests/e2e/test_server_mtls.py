"""`podiam server --ca` (kiam's mutual TLS, issue 17; docs/server.md "Trust model"): agents must
present a client certificate the CA signed, and that is checked in addition to the agent's
pod-bound token, never instead of it. A real `podiam agent --server-cert/--server-key` gets a
pod its role through such a server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from podiam_testenv.pki import write_pki
from podiam_testenv.imds_client import WHOAMI_PY, assumed, namespace, run_pod
from podiam_testenv.server import (Setup, app_pod, ask_until, body, module_server,
                                   start_chain_agent)

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
