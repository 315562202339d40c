"""`podiam agent`'s container-credentials endpoint, the issue-14 follow-ups, end to end against the
real apiserver, moto behind the counting STS proxy and unmodified SDKs
(docs/container-credentials.md):

- `targetRoleArn`: two AssumeRole calls, the second signed with the first's credentials, and the
  SDK prints the target role's ARN;
- `status.conditions` of PodIdentityAssociation objects written by the agent;
- a pod reaching the endpoint over IPv6 ([fd00:ec2::23]);
- hostNetwork pods: refused by default, served with --container-credentials-host-network.

Helpers and the CRD fixture come from test_agent_container_credentials.py (same directory).
"""

import json
import tempfile
import time
from pathlib import Path

import pytest
from podiam_testenv import paths
from podiam_testenv.imds_client import ALLOWED, WHOAMI_PY
from test_agent_container_credentials import (FLAGS, PIA, assumed, associate, crd, get,  # noqa: F401
                                              role_arn, setup_namespace, start_pod, tags_sent,
                                              wait_for)

pytestmark = pytest.mark.e2e

TARGET_ACCOUNT = "210987654321"
POD_IDENTITY_IP6 = "fd00:ec2::23"


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


def _conditions(kube, ns, name) -> tuple[dict, dict]:
    obj = kube.rest.get(f"{PIA.format(ns=ns)}/{name}")
    status = obj.get("status") or {}
    return obj, {c["type"]: c for c in status.get("conditions") or []}


def test_associations_get_status_conditions(crd, kube, start_agent):
    agent = start_agent(*FLAGS)
    ns = setup_namespace(kube)
    associate(kube, ns, "invalid", "a", "bad name!")  # passes the CRD's pattern, not IAM's rules
    associate(kube, ns, "denied", "b", "admin")  # the namespace allows only pia-*
    associate(kube, ns, "ok", "c", "pia-ok")

    def settled(name, status, reason):
        obj, conds = _conditions(kube, ns, name)
        gen = obj["metadata"]["generation"]
        ok = all(conds.get(t, {}).get("status") == status and conds[t].get("reason") == reason
                 and conds[t].get("observedGeneration") == gen for t in ("Accepted", "Ready"))
        return obj if ok and obj["status"].get("observedGeneration") == gen else None

    wait_for(lambda: settled("invalid", "False", "InvalidRoleArn"), what="InvalidRoleArn")
    denied = wait_for(lambda: settled("denied", "False", "DeniedByNamespacePolicy"),
                      what="DeniedByNamespacePolicy")
    ok = wait_for(lambda: settled("ok", "True", "Accepted"), what="Accepted")
    assert "role/pia-ok" in ok["status"]["conditions"][0]["message"]
    assert denied["status"]["conditions"][0]["message"], denied["status"]

    # Written once: the agent does not rewrite an unchanged status.
    time.sleep(2)
    assert _conditions(kube, ns, "ok")[0]["metadata"]["resourceVersion"] == \
        ok["metadata"]["resourceVersion"]

    # A spec change bumps the generation and the status follows it.
    kube.rest.patch(f"{PIA.format(ns=ns)}/ok", {"spec": {"roleArn": role_arn("admin")}})
    wait_for(lambda: settled("ok", "False", "DeniedByNamespacePolicy"), what="the new generation")
    # The namespace allowing admin makes the denied one Ready.
    kube.rest.patch(f"/api/v1/namespaces/{ns}",
                    {"metadata": {"annotations": {ALLOWED: json.dumps(["pia-*", "admin"])}}})
    wait_for(lambda: settled("denied", "True", "Accepted"), what="the namespace change")
    assert "cannot write PodIdentityAssociation status" not in agent.log_text()


def _route6(pod):
    """The pod's route to the endpoint's IPv6 address, as the EKS CNI gives pods."""
    pod.run([paths.tool("ip"), "-6", "route", "add", f"{POD_IDENTITY_IP6}/128", "via",
             pod.gateway6, "dev", "eth0"])


def test_a_pod_reaches_the_endpoint_over_ipv6(crd, kube, pods, start_agent):
    (pod,) = pods(1, ipv6=True)  # also turns IPv6 on in the node namespace
    _route6(pod)
    agent = start_agent("--container-credentials-link=lo",
                        f"--container-credentials-listen=[{POD_IDENTITY_IP6}]:80",
                        "--cluster-name=podiam-e2e")
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-v6")
    obj, _, env = start_pod(kube, pod, ns)
    kube.set_pod_status(obj["metadata"]["name"], pod_ip=pod.ip, pod_ips=[pod.ip, pod.ip6],
                        namespace=ns)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://[{POD_IDENTITY_IP6}]/v1/credentials"
    arn = json.loads(pod.python(WHOAMI_PY, env=env).stdout)
    assert arn == assumed("pia-v6", ns, obj)
    assert agent.metric("podiam_container_credentials_requests_total", code="200") >= 1


def test_host_network_pods_are_refused_unless_the_flag_allows_them(crd, kube, node, start_agent):
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-hostnet")
    kube.create_service_account("app", namespace=ns)
    kube.wait_service_account("app", namespace=ns)
    obj = kube.run_pod(namespace=ns, service_account="app", host_network=True)
    token = kube.request_token("app", audiences=("pods.eks.amazonaws.com",), pod=obj,
                               namespace=ns, expiration_seconds=3600)
    home = Path(tempfile.mkdtemp(prefix="podiam-hostnet-"))
    token_file = home / "eks-pod-identity-token"
    token_file.write_text(token)
    env = {"PATH": f"{paths.VENV_BIN}:/usr/bin:/bin", "HOME": str(home),
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL_STS": node.sts_endpoint,
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)}

    # Default: refused (a hostNetwork pod has no address of its own to check the source against).
    agent = start_agent(*FLAGS)
    refused = node.run([paths.PYTHON, "-c", WHOAMI_PY], env=env, check=False)
    assert refused.returncode != 0
    assert agent.metric("podiam_container_credentials_refusals_total", reason="host_network") >= 1
    assert agent.stop() == 0

    # With the flag: the SDK on the node (source = a node address) gets the pod's role.
    agent = start_agent(*FLAGS, "--container-credentials-host-network")
    arn = json.loads(node.run([paths.PYTHON, "-c", WHOAMI_PY], env=env).stdout)
    assert arn == assumed("pia-hostnet", ns, obj)
