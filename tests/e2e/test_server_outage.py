"""Outages around `podiam server` (issue 17; docs/server.md "Outages", docs/agent.md "Server
mode"): a real agent in server mode (tests/lib/podiam_testenv/server.py, as test_server.py's
chain test) with a real `podiam server` on loopback and moto behind the counting/fault proxy.

- The server killed (SIGKILL) for OUTAGE_SECONDS (env PODIAM_SERVER_OUTAGE_SECONDS, default 300:
  the issue's five minutes; the ASan pass of scripts/test uses 60, the code path is the same):
  a pod keeps getting its cached credentials every ~5 s; a pod created during the outage gets
  503; a new server process on the same address serves that pod within ~30 s (the agent's
  per-URL backoff is below 30 s), and the agent is the same process throughout.
- STS down while the server is warm: the server answers from its broker's cache (same
  AccessKeyId) until 15 min before expiry, then 503 CredentialsUnavailable with the STS code, and
  the agent stops serving its copy at the same moment (the same rule: never under 15 min left).
  Time-compressed with the proxy's Expiration rewrite, as test_controller_sts_outage.py does.

Own server, apiserver namespace and nodes per module (the first test kills the server).
Only this module's roles and session names are counted in the shared proxy.
"""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest
from podiam_testenv.imds_client import CREDS, namespace, own_credentials, request, run_pod
from podiam_testenv.server import (Setup, ask_until, body, module_server, role_arn,
                                   start_chain_agent)

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = int(os.environ.get("PODIAM_SERVER_OUTAGE_SECONDS", "300"))
PROBE_EVERY = 5.0
RESUME_WITHIN = 35.0  # the agent's per-URL backoff is at most 30 s (docs/agent.md)
MIN_REMAINING = 15 * 60  # neither broker serves credentials with less left
SERVABLE = 40  # seconds the short credentials of the STS test are servable for

BOTO3_KEY_PY = """
import boto3, json
print(json.dumps(boto3.Session().get_credentials().get_frozen_credentials().access_key))
"""


@pytest.fixture(scope="module")
def setup(cluster):
    s = Setup(cluster, prefix="srv-outage")
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(cluster, sts, setup, tmp_path_factory):
    yield from module_server(cluster, sts, setup, tmp_path_factory.mktemp("server-certs"))


@pytest.fixture
def running_server(server):
    """The module's server, started again if an earlier test left it down."""
    if server.proc.poll() is not None:
        server.start()
    return server


def boto3_key(pod) -> str:
    return json.loads(pod.python(BOTO3_KEY_PY).stdout)


def imds(pod, role: str) -> tuple[int, dict]:
    status, _, text = request(pod, "GET", CREDS + role, timeout=15)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"raw": text}


def expiry(creds: dict) -> float:
    return datetime.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_server_killed_pods_keep_their_credentials_and_the_agent_resumes(
        running_server, setup, kube, node, pods, start_agent, tmp_path, sts):
    server = running_server
    agent, _ = start_chain_agent(setup, server, kube, node, start_agent, tmp_path)
    agent_pid = agent.proc.pid
    ns = namespace(kube, ["srv-*"])
    warm, late = pods(2)
    run_pod(kube, warm, ns, role="srv-outage-warm")
    key = boto3_key(warm)  # an SDK run at the start
    assert sts.issued(key)["role_arn"] == role_arn("srv-outage-warm")
    assert own_credentials(warm, "srv-outage-warm")["AccessKeyId"] == key
    failed_before = agent.metric("podiam_server_client_requests_total", result="transport_error")

    assert server.kill() == -9
    started = time.monotonic()
    probes, late_obj = 0, None
    while (elapsed := time.monotonic() - started) < OUTAGE_SECONDS:
        status, doc = imds(warm, "srv-outage-warm")
        assert status == 200, (elapsed, status, doc, agent.log_tail())
        assert doc["AccessKeyId"] == key, elapsed
        probes += 1
        if late_obj is None and elapsed >= OUTAGE_SECONDS / 2:
            # A pod whose role the agent has not cached: it needs the server, which is down.
            late_obj = run_pod(kube, late, ns, role="srv-outage-late")
            status, doc = imds(late, "srv-outage-late")
            assert status == 503, (status, doc)
            assert agent.ops("/readyz")[0] == 200  # "a server has answered": not per request
        time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started - elapsed)))
    assert probes >= OUTAGE_SECONDS // PROBE_EVERY - 1
    assert boto3_key(warm) == key  # and an SDK run at the end
    assert agent.metric("podiam_server_client_requests_total",
                        result="transport_error") > failed_before
    assert agent.metric("podiam_server_client_endpoints_backing_off") == 1

    server.start()  # a new process on the same address
    back = time.monotonic()
    while True:
        status, doc = imds(late, "srv-outage-late")
        if status == 200 or time.monotonic() - back > RESUME_WITHIN:
            break
        time.sleep(1)
    assert status == 200, (status, doc, agent.log_tail())
    issued = sts.issued(doc["AccessKeyId"])
    assert issued["role_arn"] == role_arn("srv-outage-late")
    assert issued["session"] == f"{ns}.{late_obj['metadata']['name']}"
    assert agent.proc.poll() is None and agent.proc.pid == agent_pid  # never restarted
    assert agent.metric("podiam_server_client_endpoints_backing_off") == 0
    assert "podiam server answers again" in agent.log_text()
    assert own_credentials(warm, "srv-outage-warm")["AccessKeyId"] == key
    assert agent.metric("podiam_sts_calls_total") == 0


def test_sts_down_the_server_serves_its_cache_to_expiry(
        running_server, setup, kube, node, pods, start_agent, tmp_path, sts):
    server = running_server
    agent, token = start_chain_agent(setup, server, kube, node, start_agent, tmp_path)
    ns = namespace(kube, ["srv-*"])
    (pod,) = pods(1)
    role = "srv-sts-down"
    # Credentials that are servable for SERVABLE seconds (the proxy rewrites their Expiration).
    sts.fault("expire_in", action="AssumeRole", seconds=MIN_REMAINING + SERVABLE)
    try:
        obj = run_pod(kube, pod, ns, role=role)
        session = f"{ns}.{obj['metadata']['name']}"
        payload = body(obj, role)
        r = ask_until(server, token, payload, 200)
        assert r.status_code == 200, r.text
        creds = r.json()["credentials"]
        key = creds["AccessKeyId"]
        last_servable = expiry(creds) - MIN_REMAINING
        assert last_servable - time.time() > SERVABLE / 2, creds["Expiration"]
        # From now on STS refuses every AssumeRole.
        sts.clear_faults()
        sts.fault("unavailable", action="AssumeRole")
        assert own_credentials(pod, role)["AccessKeyId"] == key

        # Until the last servable moment: the server's cache, and the agent's copy, same key.
        served = 0
        while time.time() < last_servable - 3:
            r = server.ask(token, payload)
            assert r.status_code == 200, (r.status_code, r.text)
            assert r.json()["credentials"]["AccessKeyId"] == key
            assert own_credentials(pod, role)["AccessKeyId"] == key
            served += 1
            time.sleep(2)
        assert served >= 3

        # After it: the server answers 503 with STS's code, and the agent stops serving too.
        time.sleep(max(0.0, last_servable + 3 - time.time()))
        r = server.ask(token, payload)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "CredentialsUnavailable"
        assert r.json()["upstreamCode"] == "ServiceUnavailable"
        assert r.json()["retryable"] is True
        assert key not in r.text
        status, doc = imds(pod, role)
        assert status == 503, (status, doc)
        assert key not in json.dumps(doc)
        refused = [q for q in sts.requests("AssumeRole")
                   if q["params"].get("RoleSessionName") == session]
        assert len(refused) >= 2, refused  # the first (short) one, then failed refreshes
        assert agent.metric("podiam_sts_calls_total") == 0
    finally:
        sts.clear_faults()

    # STS back: the server's retries (backoff ≤ 60 s) fetch again, and the pod is served anew.
    deadline = time.monotonic() + 150
    while True:
        status, doc = imds(pod, role)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert status == 200, (status, doc, server.log_tail())
    assert doc["AccessKeyId"] != key
    assert sts.issued(doc["AccessKeyId"])["session"] == session
