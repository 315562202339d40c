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
import time

import pytest
from podiam_testenv import gosdk
from podiam_testenv.imds_client import ACCOUNT, WHOAMI_PY, assumed, namespace, run_pod
from podiam_testenv.server import (AUDIENCE, Setup, app_pod, ask_until, body,
                                   module_server, role_arn, start_chain_agent)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def setup(cluster):
    s = Setup(cluster)
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(cluster, sts, setup, tmp_path_factory):
    yield from module_server(cluster, sts, setup, tmp_path_factory.mktemp("server-certs"))


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
    agent, _ = start_chain_agent(setup, server, kube, node, start_agent, tmp_path)
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
