"""`podiam agent`'s container-credentials endpoint, the issue-14 follow-ups, end to end against the
real apiserver, moto behind the counting STS proxy and unmodified SDKs
(docs/container-credentials.md):

- `targetRoleArn`: two AssumeRole calls, the second signed with the first's credentials, and the
  SDK prints the target role's ARN;

Helpers and the CRD fixture come from test_agent_container_credentials.py (same directory).
"""

import json

import pytest
from podiam_testenv.imds_client import WHOAMI_PY
from test_agent_container_credentials import (FLAGS, PIA, assumed, associate, crd, get,  # noqa: F401
                                              role_arn, setup_namespace, start_pod, tags_sent,
                                              wait_for)

pytestmark = pytest.mark.e2e

TARGET_ACCOUNT = "210987654321"


def test_target_role_arn_chains_two_assume_role_calls(crd, kube, pods, start_agent, sts):
    agent = start_agent(*FLAGS)
    target = f"arn:aws:iam::{TARGET_ACCOUNT}:role/pia-target"
    ns = setup_namespace(kube, allowed=("pia-*", target))
    associate(kube, ns, "app", "app", "pia-first", targetRoleArn=target, externalId="ext-42",
              policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",'
                     '"Resource":"*"}]}')
    (pod,) = pods(1)
    obj, token, env = start_pod(kube, pod, ns)  # prefetched from here on

    arn = json.loads(pod.python(WHOAMI_PY, env=env).stdout)
    session = f"{ns}.{obj['metadata']['name']}"
    assert arn == f"arn:aws:sts::{TARGET_ACCOUNT}:assumed-role/pia-target/{session}"

    calls = [r for r in sts.requests("AssumeRole")
             if r["params"].get("RoleSessionName") == session]
    assert len(calls) == 2, calls
    first, second = calls
    assert first["params"]["RoleArn"] == role_arn("pia-first")
    assert second["params"]["RoleArn"] == target
    # The first hop: no external ID, no session policy (they belong to the target), 900 s.
    assert "ExternalId" not in first["params"] and "Policy" not in first["params"]
    assert first["params"]["DurationSeconds"] == "900"
    # The second hop: signed with the first hop's credentials, at most 1 h, the external ID and
    # the policy, the same EKS session tags.
    issued = sts.issued(second["key_id"])
    assert issued is not None and issued["role_arn"] == role_arn("pia-first"), issued
    assert first["key_id"] != second["key_id"]
    assert second["params"]["ExternalId"] == "ext-42"
    assert "s3:*" in second["params"]["Policy"]
    assert int(second["params"]["DurationSeconds"]) <= 3600
    tags = tags_sent(sts, session)  # the last call: the target's
    assert tags["kubernetes-pod-uid"] == obj["metadata"]["uid"]
    assert tags["kubernetes-service-account"] == "app"

    # Cached as one entry: more requests make no more STS calls.
    for _ in range(5):
        status, body = get(pod, token)
        assert status == 200 and body["AccountId"] == TARGET_ACCOUNT, body
    assert len([r for r in sts.requests("AssumeRole")
                if r["params"].get("RoleSessionName") == session]) == 2

    # A target the namespace does not allow: 403, like any other role.
    kube.rest.patch(f"{PIA.format(ns=ns)}/app",
                    {"spec": {"targetRoleArn": f"arn:aws:iam::{TARGET_ACCOUNT}:role/admin"}})

    wait_for(lambda: get(pod, token)[0] == 403, what="the namespace policy to refuse the new target")
    assert agent.metric("podiam_container_credentials_refusals_total", reason="denied") >= 1

