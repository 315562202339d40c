"""IRSA on a self-hosted cluster from one binary, end to end (issue 16 with issue 15): a real
kube-apiserver issuing for a public issuer URL, `podiam oidc render` of its keys, `podiam iam
create-oidc-provider` and `create-role --annotate` against moto's IAM, `podiam webhook` mutating a
pod created through the apiserver, the pod's projected token minted by the apiserver (TokenRequest
with exactly what the webhook injected, the kubelet stand-in) and placed at the injected path in
the pod's mount view, and unmodified SDKs in the pod's network namespace exchanging it with
`AssumeRoleWithWebIdentity` on moto for the role `create-role` made.

Also the container-credentials path through the same webhook: a pod it mutates for container
credentials reaches `podiam agent`'s endpoint with the injected variables and token file.

One control plane (with the public issuer), one webhook and one CRD install per module; each test
has its own namespace, labelled so that only this module's webhook configuration selects it.
docs/irsa-self-hosted.md and docs/webhook.md describe what is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import jwt
import pytest
import yaml

from podiam_testenv import paths
from podiam_testenv.agent import podiam_binary
from podiam_testenv.cluster import Cluster, ClusterError
from podiam_testenv.imds_client import ALLOWED
from podiam_testenv.kube import Kube, install_crd, unique
from podiam_testenv.netns import POD_IDENTITY_IP
from podiam_testenv.webhook import MOUNT_VIEW, TEST_LABEL, Webhook, WebhookCerts

pytestmark = pytest.mark.e2e

ISSUER = "https://oidc.podiam.test/irsa-e2e"
HOST_PATH = ISSUER.removeprefix("https://")
AUD = "sts.amazonaws.com"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
CRD = paths.REPO / "deploy" / "crds" / "podidentityassociations.podiam.io.yaml"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def podiam(*args, extra_env=None, check=True, timeout=60):
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", **(extra_env or {})}
    r = subprocess.run([str(podiam_binary()), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, f"podiam {' '.join(map(str, args))}: {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def iam(sts, *args, check=True):
    """`podiam iam ...` with moto as IAM and STS (through the counting proxy)."""
    return podiam("iam", *args, check=check, extra_env={
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "moto-accepts-any",
        "PODIAM_IAM_ENDPOINT": sts.endpoint, "PODIAM_STS_ENDPOINT": sts.endpoint})


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.fixture(scope="module")
def cluster():
    """This module's control plane: tokens carry iss ISSUER, as on a self-hosted cluster with a
    public issuer (overrides the session cluster for this module, also for `kube` and the agent)."""
    try:
        c = Cluster.start(sa_issuer=ISSUER)
    except ClusterError as e:
        pytest.fail(f"could not start the test cluster:\n{e}", pytrace=False)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def crd(cluster):
    return install_crd(cluster.rest, yaml.safe_load(CRD.read_text()))


@pytest.fixture(scope="module")
def hook(cluster, crd, tmp_path_factory):
    certs = WebhookCerts(tmp_path_factory.mktemp("irsa-webhook-certs"))
    h = Webhook(cluster, certs, args=("--aws-default-region=us-east-1",
                                      "--pod-identity-associations",
                                      "--container-credentials-from-annotations")).start()
    try:
        yield h
    finally:
        h.stop_checked()


@pytest.fixture
def space(kube, hook, request):
    """A fresh namespace sent to `hook`, on `kube`'s node (the one the agent serves)."""
    test_id = unique(request.node.name.replace("_", "-")[5:30])
    name = kube.create_namespace(unique("irsa"), labels={TEST_LABEL: test_id},
                                 annotations={ALLOWED: json.dumps(["pia-*"])})["metadata"]["name"]
    hook.register(test_id)
    yield name
    kube.delete_namespace(name)


def create_mutated_pod(kube: Kube, ns: str, sa: str, want_env: str, **kw) -> dict:
    """Creates pods until one comes back with `want_env` injected (the webhook's informer may
    still hold the ServiceAccount as it was before a moment ago's change); returns it."""
    deadline = time.monotonic() + 15
    while True:
        pod = kube.create_pod(namespace=ns, service_account=sa, **kw)
        if want_env in env_of(pod["spec"]["containers"][0]):
            return pod
        kube.delete_pod(pod["metadata"]["name"], ns)
        assert time.monotonic() < deadline, f"the webhook never injected {want_env}: {pod}"
        time.sleep(0.3)


def projected_source(pod: dict, volume: str) -> dict:
    v = next(v for v in pod["spec"]["volumes"] if v["name"] == volume)
    return v["projected"]["sources"][0]["serviceAccountToken"]


def test_irsa_render_provider_role_webhook_token_sdk(cluster, space, kube, sts, pods, tmp_path):
    # 1. Publishable documents for the apiserver's key (what a static bucket would serve).
    out = tmp_path / "issuer"
    podiam("oidc", "render", "--issuer", ISSUER, "--key", cluster.dir / "pki" / "sa.pub",
           "--out", out)
    jwks = json.loads((out / "keys.json").read_text())
    assert jwks == cluster.rest.get("/openid/v1/jwks")

    # 2. IAM trusts the issuer; a role for the ServiceAccount, annotated through the apiserver.
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
    r = iam(sts, "create-oidc-provider", "--issuer", ISSUER, "--audience", AUD,
            "--thumbprint", THUMBPRINT)
    assert provider_arn in r.stdout, r.stdout
    got = sts.moto.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    assert got["ClientIDList"] == [AUD]
    kube.create_service_account("app", namespace=space)
    role_name = unique("irsa-e2e")
    r = iam(sts, "create-role", "--name", role_name, "--issuer", ISSUER, "--service-account",
            f"{space}/app", "--annotate", "--kubeconfig", cluster.kubeconfig)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    assert f"created role {role_arn}" in r.stdout, r.stdout
    sa = kube.get_service_account("app", namespace=space)
    assert sa["metadata"]["annotations"][ROLE_ANNOTATION] == role_arn

    # 3. A pod created through the apiserver comes back mutated by `podiam webhook`.
    pod = create_mutated_pod(kube, space, "app", "AWS_ROLE_ARN")
    env = env_of(pod["spec"]["containers"][0])
    assert env["AWS_ROLE_ARN"] == role_arn
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == \
        "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    source = projected_source(pod, "aws-iam-token")
    assert source["audience"] == AUD

    # 4. The kubelet stand-in: a TokenRequest with the injected audience and expiration, bound
    # to the pod. It verifies against the rendered keys (PyJWT) and `podiam oidc check`.
    token = kube.request_token("app", audiences=[source["audience"]], pod=pod, namespace=space,
                               expiration_seconds=source["expirationSeconds"])
    (tmp_path / "token").write_text(token)
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, key=jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]], audience=AUD,
                        issuer=ISSUER)
    assert claims["sub"] == f"system:serviceaccount:{space}:app"
    r = podiam("oidc", "check", "--issuer", ISSUER, "--dir", out, "--token", tmp_path / "token")
    assert f"token ok: subject system:serviceaccount:{space}:app" in r.stdout, r.stdout

    # 5. Unmodified SDKs in the pod's network namespace, the token at the injected path in its
    # mount view: their web-identity provider calls AssumeRoleWithWebIdentity on moto.
    (p,) = pods(1)
    run_env = {k: env[k] for k in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                    "AWS_DEFAULT_REGION", "AWS_REGION")}
    run_env["PODIAM_TOKEN_SOURCE"] = str(tmp_path / "token")
    run_env["PODIAM_TOKEN_PATH"] = env["AWS_WEB_IDENTITY_TOKEN_FILE"]
    boto3_out = p.run([*MOUNT_VIEW, paths.PYTHON, "-c",
                       "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"],
                      env=run_env).stdout.strip()
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/"
    assert boto3_out.startswith(assumed), boto3_out
    cli_out = p.run([*MOUNT_VIEW, paths.AWS_CLI, "sts", "get-caller-identity", "--query", "Arn",
                     "--output", "text"], env=run_env).stdout.strip()
    assert cli_out.startswith(assumed), cli_out


# ---- container credentials through the webhook --------------------------------------------------

PIA = "/apis/podiam.io/v1alpha1/namespaces/{ns}/podidentityassociations"
AGENT_FLAGS = ("--container-credentials-link=lo",
               f"--container-credentials-listen={POD_IDENTITY_IP}:80")


@pytest.mark.parametrize("selected_by", ["association", "role-annotation"])
def test_container_credentials_through_the_webhook(space, kube, pods, start_agent, selected_by,
                                                   tmp_path):
    """A pod mutated by `podiam webhook` for container credentials (an association, or the
    ServiceAccount's iam.amazonaws.com/role under --container-credentials-from-annotations):
    boto3 with exactly the injected variables, the token at the injected path, reaches `podiam
    agent`'s container-credentials endpoint and gets the role the agent resolves for it."""
    start_agent(*AGENT_FLAGS)
    role = unique("pia-cc")
    if selected_by == "association":
        kube.create_service_account("cc", namespace=space)
        kube.rest.post(PIA.format(ns=space), {
            "apiVersion": "podiam.io/v1alpha1", "kind": "PodIdentityAssociation",
            "metadata": {"name": "cc"},
            "spec": {"serviceAccount": "cc", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}"}})
    else:  # a bare name: the agent completes it with --base-role-arn
        kube.create_service_account("cc", namespace=space,
                                    annotations={"iam.amazonaws.com/role": role})
    (p,) = pods(1)
    pod = create_mutated_pod(kube, space, "cc", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    name = pod["metadata"]["name"]
    pod = kube.set_pod_status(name, pod_ip=p.ip, namespace=space)  # the kubelet started it
    env = env_of(pod["spec"]["containers"][0])
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == f"http://{POD_IDENTITY_IP}/v1/credentials"
    assert pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"] == "enabled"
    assert "AWS_ROLE_ARN" not in env
    source = projected_source(pod, "eks-pod-identity-token")
    assert source["audience"] == "pods.eks.amazonaws.com"
    assert 79200 <= source["expirationSeconds"] <= 86400
    token = kube.request_token("cc", audiences=[source["audience"]], pod=pod, namespace=space,
                               expiration_seconds=source["expirationSeconds"])
    (tmp_path / "token").write_text(token)  # no newline: the SDKs send it as a header
    run_env = {k: env[k] for k in ("AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                    "AWS_DEFAULT_REGION", "AWS_REGION")}
    run_env["PODIAM_TOKEN_SOURCE"] = str(tmp_path / "token")
    run_env["PODIAM_TOKEN_PATH"] = env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
    out = p.run([*MOUNT_VIEW, paths.PYTHON, "-c",
                 "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"],
                env=run_env).stdout.strip()
    assert out == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{space}.{name}", out
