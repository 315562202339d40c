"""`podiam agent`'s container-credentials endpoint (EKS Pod Identity protocol) end to end: pods
as network namespaces, each with a real ServiceAccount token minted by the real apiserver's
TokenRequest API and bound to its Pod object (the apiserver adds the node-name and pod-uid claims
because the Node object exists), written to a file in the pod's view; unmodified SDKs find the
endpoint through AWS_CONTAINER_CREDENTIALS_FULL_URI / AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
(issue 14, "Must show"; docs/container-credentials.md).

The node has no `dummy` kernel module here, so the agent puts 169.254.170.23 on the node's `lo`
(--container-credentials-link=lo, the documented fallback). moto accepts and ignores session
tags (docs/test-environment.md), so the tags are read where moto received them: the counting
STS proxy in front of it.
"""

import base64
import json
import time
from pathlib import Path

import pytest
import yaml
from podiam_testenv import gosdk
from podiam_testenv.agent import DEPLOY
from podiam_testenv.cluster import ApiError
from podiam_testenv.imds_client import ACCOUNT, ALLOWED, WHOAMI_PY, parse_response, send_raw
from podiam_testenv.netns import POD_IDENTITY_IP
from podiam_testenv.kube import install_crd

pytestmark = pytest.mark.e2e

AUDIENCE = "pods.eks.amazonaws.com"
URI = f"http://{POD_IDENTITY_IP}/v1/credentials"
CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/podiam-e2e"
CRD_FILE = Path(DEPLOY).parent / "crds" / "podidentityassociations.podiam.io.yaml"
PIA = "/apis/podiam.io/v1alpha1/namespaces/{ns}/podidentityassociations"
FLAGS = ("--container-credentials-link=lo",
         f"--container-credentials-listen={POD_IDENTITY_IP}:80",
         "--cluster-name=podiam-e2e", f"--cluster-arn={CLUSTER_ARN}")


@pytest.fixture(scope="module")
def crd(cluster):
    """The shipped CRD, installed once for the module and Established."""
    return install_crd(cluster.rest, yaml.safe_load(CRD_FILE.read_text()))


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def associate(kube, ns, name, sa, role, **spec):
    body = {"apiVersion": "podiam.io/v1alpha1", "kind": "PodIdentityAssociation",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceAccount": sa, "roleArn": role_arn(role), **spec}}
    return kube.rest.post(PIA.format(ns=ns), body)


def setup_namespace(kube, allowed=("pia-*",)) -> str:
    return kube.create_namespace(annotations={ALLOWED: json.dumps(list(allowed))})["metadata"]["name"]


def start_pod(kube, pod, ns, sa="app", name=None, audience=AUDIENCE, node=None):
    """A running Pod object owning the netns pod's IP, its projected token written into the pod's
    view; returns (pod object, token, env for the SDKs)."""
    try:
        kube.create_service_account(sa, namespace=ns)
    except ApiError as e:
        if e.status != 409:
            raise
    kube.wait_service_account(sa, namespace=ns)
    obj = kube.run_pod(name=name, namespace=ns, pod_ip=pod.ip, service_account=sa,
                       **({"node": node} if node else {}))
    token = kube.request_token(sa, audiences=(audience,), pod=obj, namespace=ns,
                               expiration_seconds=3600)
    path = Path(pod.home) / "eks-pod-identity-token"
    path.write_text(token)  # no trailing newline: SDKs refuse CR/LF in the header
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": URI,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(path)}
    return obj, token, env


def get(pod, token=None, host=POD_IDENTITY_IP):
    """GET /v1/credentials from inside `pod` to 169.254.170.23 with this Host header and token;
    (status, JSON body or text)."""
    fields = {"Host": host, "Connection": "close"}
    if token is not None:
        fields["Authorization"] = token
    head = "GET /v1/credentials HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    status, _, body = parse_response(send_raw(pod, head.encode() + b"\r\n", host=POD_IDENTITY_IP))
    return status, (json.loads(body) if body.startswith("{") else body)


def assumed(role, ns, obj) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{ns}.{obj['metadata']['name']}"


def tags_sent(sts, session_suffix: str) -> dict:
    """The session tags of the last AssumeRole whose session name ends with session_suffix, as
    STS (moto) received them."""
    for r in reversed(sts.requests("AssumeRole")):
        p = r["params"]
        if p.get("RoleSessionName", "").endswith(session_suffix):
            n, tags = 1, {}
            while f"Tags.member.{n}.Key" in p:
                tags[p[f"Tags.member.{n}.Key"]] = p[f"Tags.member.{n}.Value"]
                n += 1
            return tags
    raise AssertionError(f"no AssumeRole for a session ending {session_suffix}")


def wait_for(check, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sdks_get_their_associations_role_with_eks_session_tags(crd, kube, pods, start_agent, sts):
    agent = start_agent(*FLAGS)
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-app")
    associate(kube, ns, "other", "other", "pia-other")
    pod_a, pod_b = pods(2)
    obj_a, _, env_a = start_pod(kube, pod_a, ns, sa="app")
    obj_b, _, env_b = start_pod(kube, pod_b, ns, sa="other")

    assert json.loads(pod_a.python(WHOAMI_PY, env=env_a).stdout) == assumed("pia-app", ns, obj_a)
    cli = json.loads(pod_b.aws_cli(["sts", "get-caller-identity", "--output", "json"], env=env_b).stdout)
    assert cli["Arn"] == assumed("pia-other", ns, obj_b)
    js = json.loads(pod_a.node_js("whoami.mjs", env=env_a).stdout)
    assert js["Arn"] == assumed("pia-app", ns, obj_a)
    go = json.loads(pod_b.run([gosdk.whoami_binary()], env=env_b).stdout)  # AWS SDK for Go v2
    assert go["Arn"] == assumed("pia-other", ns, obj_b)

    tags = tags_sent(sts, f"{ns}.{obj_a['metadata']['name']}")
    assert tags == {"eks-cluster-arn": CLUSTER_ARN, "eks-cluster-name": "podiam-e2e",
                    "kubernetes-namespace": ns, "kubernetes-service-account": "app",
                    "kubernetes-pod-name": obj_a["metadata"]["name"],
                    "kubernetes-pod-uid": obj_a["metadata"]["uid"]}
    assert agent.metric("podiam_container_credentials_requests_total", code="200") >= 3
    assert agent.metric("podiam_container_credentials_up") == 1


def test_refusals(crd, kube, pods, start_agent):
    agent = start_agent(*FLAGS)
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-app")
    pod_a, pod_b, pod_c = pods(3)
    obj_a, token_a, _ = start_pod(kube, pod_a, ns)
    start_pod(kube, pod_b, ns)
    assert get(pod_a, token_a)[0] == 200

    status, body = get(pod_b, token_a)  # A's token replayed from B
    assert status == 403 and body["code"] == "AccessDenied", body
    assert "own address" in body["message"]

    other_audience = kube.request_token("app", audiences=("sts.amazonaws.com",), pod=obj_a,
                                        namespace=ns, expiration_seconds=3600)
    status, body = get(pod_a, other_audience)
    assert status == 401 and body["code"] == "InvalidToken", body

    # Expired: the real token with its exp moved into the past (refused before any review; the
    # apiserver would refuse its broken signature too).
    head, payload, sig = token_a.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 60
    expired = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), sig])
    status, body = get(pod_a, expired)
    assert status == 401 and "expired" in body["message"], body

    # A pod on another node (its Node object exists, so its token names that node).
    other_node = kube.create_node()
    _, token_c, _ = start_pod(kube, pod_c, ns, node=other_node)
    status, body = get(pod_c, token_c)
    assert status == 403, body

    assert get(pod_a, token_a, host="169.254.170.2")[0] == 403
    assert get(pod_a, token_a, host="example.com")[0] == 403
    status, body = get(pod_a, None)
    assert status == 400 and body["code"] == "InvalidRequest", body
    assert get(pod_a, "not-a-jwt")[0] == 400

    # Deleted: refused at once, although its review is cached for minutes.
    reviews = agent.metric("podiam_container_credentials_token_reviews_total")
    assert get(pod_a, token_a)[0] == 200
    kube.delete_pod(obj_a["metadata"]["name"], namespace=ns)
    wait_for(lambda: agent.metric("podiam_container_credentials_review_invalidations_total") >= 1,
             what="the deletion to reach the agent")
    status, body = get(pod_a, token_a)
    assert status in (401, 403), body
    assert agent.metric("podiam_container_credentials_token_reviews_total") - reviews <= 1

    # The refusal of A's token from B's address is an Event on pod A (the pod the token names).
    def refused_event():
        items = kube.rest.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
        items += kube.rest.get(f"/api/v1/namespaces/{ns}/events")["items"]
        return [e for e in items if e.get("reason") == "ContainerCredentialsRefused"
                and e.get("regarding", e.get("involvedObject", {})).get("name")
                == obj_a["metadata"]["name"]]
    event = wait_for(refused_event, what="an Event on pod A")[0]
    assert "source_ip" in event.get("note", event.get("message", "")), event

    for reason in ("source_ip", "unauthenticated", "expired_token", "other_node", "host",
                   "no_token", "malformed_token"):
        assert agent.metric("podiam_container_credentials_refusals_total", reason=reason) >= 1, reason
    assert "eyJ" not in agent.log_text(), "a token in the agent log"


def test_association_changes_are_followed(crd, kube, pods, start_agent, sts):
    start_agent(*FLAGS)
    ns = setup_namespace(kube)
    (pod,) = pods(1)
    _, token, _ = start_pod(kube, pod, ns)
    status, body = get(pod, token)
    assert status == 404 and body["code"] == "ResourceNotFound", body

    associate(kube, ns, "app", "app", "pia-first")
    def role_of_next_answer(expected):
        status, body = get(pod, token)
        if status != 200:
            return None
        return sts.issued(body["AccessKeyId"])["role_arn"] == role_arn(expected)
    wait_for(lambda: role_of_next_answer("pia-first"), what="the new association")

    kube.rest.patch(PIA.format(ns=ns) + "/app", {"spec": {"roleArn": role_arn("pia-second")}})
    wait_for(lambda: role_of_next_answer("pia-second"), what="the changed association")

    kube.rest.patch(PIA.format(ns=ns) + "/app", {"spec": {"roleArn": role_arn("admin")}})
    wait_for(lambda: get(pod, token)[0] == 403, what="the namespace policy to refuse admin")

    kube.rest.delete(PIA.format(ns=ns) + "/app")
    wait_for(lambda: get(pod, token)[0] == 404, what="the deleted association")


def test_one_token_review_per_token_under_a_thousand_requests(crd, kube, pods, start_agent):
    agent = start_agent(*FLAGS, "--container-credentials-pod-qps=0")
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-app")
    pod_a, pod_b = pods(2)
    _, token_a, _ = start_pod(kube, pod_a, ns)
    _, token_b, _ = start_pod(kube, pod_b, ns)
    reviews_before = agent.metric("podiam_k8s_requests_total", verb="create", resource="tokenreviews")
    for i in range(1000):
        pod, token = (pod_a, token_a) if i % 2 == 0 else (pod_b, token_b)
        status, body = get(pod, token)
        assert status == 200, body
    assert agent.metric("podiam_container_credentials_token_reviews_total", result="authenticated") == 2
    assert agent.metric("podiam_container_credentials_review_cache_total", result="hit") >= 998
    # Counted a second way: the agent's own Kubernetes client.
    assert agent.metric("podiam_k8s_requests_total", verb="create",
                        resource="tokenreviews") - reviews_before == 2


def test_per_pod_rate_limit_is_429(crd, kube, pods, start_agent):
    agent = start_agent(*FLAGS, "--container-credentials-pod-qps=5")
    ns = setup_namespace(kube)
    associate(kube, ns, "app", "app", "pia-app")
    (pod,) = pods(1)
    _, token, _ = start_pod(kube, pod, ns)
    codes = [get(pod, token)[0] for _ in range(30)]
    assert 429 in codes and codes[0] == 200, codes
    assert agent.metric("podiam_container_credentials_refusals_total", reason="rate_limited") >= 1


def test_without_a_link_the_agent_says_so_and_keeps_serving_imds(kube, pods, start_agent):
    # No --container-credentials-link: the dummy link cannot be made on this kernel.
    agent = start_agent()
    wait_for(lambda: "container-credentials endpoint OFF" in agent.log_text(), what="the error line")
    assert "--container-credentials-link" in agent.log_text()
    assert agent.metric("podiam_container_credentials_up") == 0
    assert agent.ops("/readyz")[0] == 200
