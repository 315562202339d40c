"""`podiam webhook` called by the real kube-apiserver through a MutatingWebhookConfiguration (URL
clientConfig + caBundle): pods and a Deployment's pods come back mutated, the #174 race, a down
webhook under failurePolicy Fail, certificate rotation, container-credentials associations, the
deploy/ manifests, and IRSA end to end with unmodified SDKs in a pod network namespace.

One webhook (and one CRD install) per module; each test has its own namespace, selected by the
label podiam.io/webhook-test so that other tests sharing the cluster never reach this webhook.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from podiam_testenv import gosdk, paths
from podiam_testenv.cluster import ApiError
from podiam_testenv.kube import Kube, install_crd, unique
from podiam_testenv.moto import free_port
from podiam_testenv.webhook import MOUNT_VIEW, TEST_LABEL, Webhook, WebhookCerts, served_serial

pytestmark = pytest.mark.e2e

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
DEPLOY = paths.REPO / "deploy"
CRD = DEPLOY / "crds" / "podidentityassociations.podiam.io.yaml"


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return WebhookCerts(tmp_path_factory.mktemp("webhook-certs"))


@pytest.fixture(scope="module")
def hook(cluster, certs):
    install_crd(cluster.rest, yaml.safe_load(CRD.read_text()))
    h = Webhook(cluster, certs, args=("--aws-default-region=eu-west-1",
                                      "--pod-identity-associations")).start()
    try:
        yield h
    finally:
        h.stop_checked()


@pytest.fixture
def space(cluster, hook, request):
    """A fresh namespace sent to `hook` (its own configuration, named after the test)."""
    test_id = unique(request.node.name.replace("_", "-")[5:30])
    k = Kube(cluster.rest)
    k.namespace = k.create_namespace(unique("wh"), labels={TEST_LABEL: test_id})["metadata"]["name"]
    k.test_id = test_id
    hook.register(test_id)
    yield k
    k.delete_namespace(k.namespace)
    for node in k.created_nodes:
        k.delete_node(node)


def test_pod_created_through_the_api_comes_back_mutated(space, hook):
    role = "arn:aws:iam::111122223333:role/s3-reader"
    space.create_service_account("reader", annotations={ROLE_ANNOTATION: role})
    pod = space.create_pod(service_account="reader")
    env = env_of(pod["spec"]["containers"][0])
    assert env["AWS_ROLE_ARN"] == role
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == \
        "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "eu-west-1"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "aws-iam-token")
    assert volume["projected"]["sources"][0]["serviceAccountToken"] == {
        "audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}
    mount = next(m for m in pod["spec"]["containers"][0]["volumeMounts"]
                 if m["name"] == "aws-iam-token")
    assert mount["mountPath"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount"
    assert mount["readOnly"] is True

    # No role: created unchanged. The objectSelector's skip label: never sent to the webhook.
    plain = space.create_pod()
    assert "AWS_ROLE_ARN" not in env_of(plain["spec"]["containers"][0])
    skipped = space.create_pod(service_account="reader",
                               labels={"eks.amazonaws.com/skip-pod-identity-webhook": "true"})
    assert "AWS_ROLE_ARN" not in env_of(skipped["spec"]["containers"][0])
    assert hook.metric('podiam_webhook_admissions_total{mode="web_identity",result="mutated"}') >= 1


def test_deployment_pods_are_mutated(space):
    role = "arn:aws:iam::111122223333:role/deployed"
    space.create_service_account("deployer", annotations={ROLE_ANNOTATION: role})
    ns = space.namespace
    space.rest.post(f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"serviceAccountName": "deployer", "containers": [
                                  {"name": "app", "image": "registry.invalid/podiam-test:none"}]}}}})
    deadline = time.monotonic() + 60
    while True:
        items = space.rest.get(f"/api/v1/namespaces/{ns}/pods",
                               params={"labelSelector": "app=web"})["items"]
        if len(items) == 2:
            break
        assert time.monotonic() < deadline, "kube-controller-manager made no pods"
        time.sleep(0.3)
    for pod in items:
        assert env_of(pod["spec"]["containers"][0])["AWS_ROLE_ARN"] == role


def test_service_account_created_just_before_the_pod_is_not_missed(cluster, certs, tmp_path):
    """amazon-eks-pod-identity-webhook#174, deterministically: this webhook's informer starts an
    hour late, so its cache never has the ServiceAccount; the direct read must find it."""
    late = Webhook(cluster, certs, args=("--informer-start-delay=1h",), log_dir=tmp_path)
    late.start(wait_ready=False)
    k = Kube(cluster.rest)
    test_id = unique("race")
    k.namespace = k.create_namespace(unique("wh"), labels={TEST_LABEL: test_id})["metadata"]["name"]
    try:
        late.register(test_id)
        role = "arn:aws:iam::111122223333:role/racer"
        k.create_service_account("racer", annotations={ROLE_ANNOTATION: role})
        pod = k.create_pod(service_account="racer")
        assert env_of(pod["spec"]["containers"][0])["AWS_ROLE_ARN"] == role
        assert late.metric(
            'podiam_webhook_serviceaccount_cache_misses_total{outcome="found"}') >= 1
        assert late.metric("podiam_webhook_serviceaccounts_cached") == 0
    finally:
        assert late.stop() == 0, late.log_tail()
        k.delete_namespace(k.namespace)
        for node in k.created_nodes:
            k.delete_node(node)


def test_webhook_down_with_fail_policy_refuses_the_pod(cluster, hook):
    k = Kube(cluster.rest)
    test_id = unique("down")
    k.namespace = k.create_namespace(unique("wh"), labels={TEST_LABEL: test_id})["metadata"]["name"]
    try:
        hook.register(test_id, port=free_port(), timeout_seconds=3)  # nobody listens there
        with pytest.raises(ApiError) as err:
            k.create_pod()
        assert err.value.status == 500
        message = json.loads(err.value.body)["message"]
        assert "failed calling webhook" in message and "pod-identity-webhook.podiam.io" in message
        assert k.rest.get(f"/api/v1/namespaces/{k.namespace}/pods")["items"] == []
    finally:
        k.delete_namespace(k.namespace)
        for node in k.created_nodes:
            k.delete_node(node)


def test_rotated_certificate_is_used_by_the_next_admission(space, hook, certs):
    role = "arn:aws:iam::111122223333:role/rotated"
    space.create_service_account("rot", annotations={ROLE_ANNOTATION: role})
    assert env_of(space.create_pod(service_account="rot")["spec"]["containers"][0])
    old_serial = served_serial(hook.port)
    certs.rotate()  # a new CA and certificate, files replaced in place
    deadline = time.monotonic() + 10
    while served_serial(hook.port) != certs.serial:
        assert time.monotonic() < deadline, "the webhook kept serving the old certificate"
        time.sleep(0.2)
    assert certs.serial != old_serial
    # The apiserver now trusts only the new CA: admission works only with the new certificate.
    for name in hook.configs:
        hook.update_ca_bundle(name)
    deadline = time.monotonic() + 20
    while True:
        try:
            pod = space.create_pod(service_account="rot")
            break
        except ApiError as e:  # until the apiserver's webhook client picks up the new bundle
            assert time.monotonic() < deadline, str(e)
            time.sleep(0.5)
    assert env_of(pod["spec"]["containers"][0])["AWS_ROLE_ARN"] == role


def test_association_gives_container_credentials(space, hook):
    space.create_service_account("cc")
    space.rest.post(f"/apis/podiam.io/v1alpha1/namespaces/{space.namespace}/podidentityassociations", {
        "apiVersion": "podiam.io/v1alpha1", "kind": "PodIdentityAssociation",
        "metadata": {"name": "cc"},
        "spec": {"serviceAccount": "cc", "roleArn": "arn:aws:iam::111122223333:role/cc"}})
    deadline = time.monotonic() + 10
    while True:
        pod = space.create_pod(service_account="cc")
        env = env_of(pod["spec"]["containers"][0])
        if "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # the association reaches the webhook through its watch
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://169.254.170.23/v1/credentials"
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == \
        "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
    assert pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"] == "enabled"
    token = next(v for v in pod["spec"]["volumes"] if v["name"] == "eks-pod-identity-token")
    source = token["projected"]["sources"][0]["serviceAccountToken"]
    assert source["audience"] == "pods.eks.amazonaws.com"
    assert 79200 <= source["expirationSeconds"] <= 86400


def test_deploy_manifests_are_accepted_by_the_apiserver(cluster):
    rest = cluster.rest
    urls = {
        "Namespace": "/api/v1/namespaces",
        "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
        "Service": "/api/v1/namespaces/{ns}/services",
        "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
        "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        "MutatingWebhookConfiguration":
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    }
    docs = list(yaml.safe_load_all((DEPLOY / "webhook" / "webhook.yaml").read_text()))
    docs.append(yaml.safe_load(CRD.read_text()))
    list(yaml.safe_load_all((DEPLOY / "webhook" / "certificate.yaml").read_text()))  # parses
    kinds = [d["kind"] for d in docs]
    for kind in ("Deployment", "PodDisruptionBudget", "Service", "ClusterRole",
                 "MutatingWebhookConfiguration"):
        assert kind in kinds
    ns = next(d for d in docs if d["kind"] == "Namespace")["metadata"]["name"]
    created_ns = False
    try:
        try:  # namespaced objects can only be dry-run in an existing namespace
            rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns}})
            created_ns = True
        except ApiError as e:
            if e.status != 409:
                raise
        for doc in docs:
            url = urls[doc["kind"]].format(ns=doc["metadata"].get("namespace", ""))
            rest.post(url, doc, params={"dryRun": "All", "fieldValidation": "Strict"},
                      ok=(409,) if doc["kind"] in ("Namespace", "CustomResourceDefinition") else ())
        hook = next(d for d in docs if d["kind"] == "MutatingWebhookConfiguration")["webhooks"][0]
        assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
        assert hook["reinvocationPolicy"] == "IfNeeded"
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        assert deployment["spec"]["replicas"] == 2
    finally:
        if created_ns:
            rest.delete(f"/api/v1/namespaces/{ns}", ok=(404,))


# ---- IRSA end to end ---------------------------------------------------------------------------

SDKS = {
    "boto3": lambda pod, env: pod.run(
        [*MOUNT_VIEW, paths.PYTHON, "-c",
         "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"], env=env),
    "aws-cli": lambda pod, env: pod.run(
        [*MOUNT_VIEW, paths.AWS_CLI, "sts", "get-caller-identity", "--query", "Arn", "--output",
         "text"], env=env),
    "go-sdk-v2": lambda pod, env: pod.run([*MOUNT_VIEW, gosdk.whoami_binary()], env=env),
    "js-sdk-v3": lambda pod, env: pod.run(
        [*MOUNT_VIEW, paths.tool("node"), paths.JS_DIR / "whoami.mjs"], env=env, cwd=paths.JS_DIR),
}



@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_irsa_end_to_end(space, moto, node, pods, sdk, tmp_path):
    role_name = unique("webhook-e2e")
    role = moto.create_role(role_name)
    role_arn = role["Arn"] if isinstance(role, dict) else role
    space.create_service_account("irsa", annotations={ROLE_ANNOTATION: role_arn})
    pod = space.create_pod(service_account="irsa")
    container = pod["spec"]["containers"][0]
    env = env_of(container)
    token_source = next(v for v in pod["spec"]["volumes"]
                        if v["name"] == "aws-iam-token")["projected"]["sources"][0][
        "serviceAccountToken"]
    # The kubelet stand-in: a TokenRequest with exactly what the webhook injected.
    token = space.request_token("irsa", audiences=[token_source["audience"]], pod=pod,
                                expiration_seconds=token_source["expirationSeconds"])
    (tmp_path / "token").write_text(token)
    (p,) = pods(1)
    run_env = {k: env[k] for k in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                    "AWS_DEFAULT_REGION", "AWS_REGION")}
    run_env["PODIAM_TOKEN_SOURCE"] = str(tmp_path / "token")
    run_env["PODIAM_TOKEN_PATH"] = env["AWS_WEB_IDENTITY_TOKEN_FILE"]
    out = SDKS[sdk](p, run_env).stdout.strip()
    arn = json.loads(out)["Arn"] if out.startswith("{") else out
    assert f":assumed-role/{role_name}/" in arn, out
