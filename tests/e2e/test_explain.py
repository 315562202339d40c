"""`podiam explain pod` against the real kube-apiserver (issue 19; docs/explain.md): pods in each
state — no role, allowed, denied, hostNetwork, no IP yet, IRSA mutated by the real webhook and
not mutated, a PodIdentityAssociation — give the expected verdict per path; and for the same pods
the E2E agent answers what explain says (200 with the role, 403, 404).

One webhook, one CRD install and one namespace of explained pods per module; the agent test has
its own namespace and node (the agent fixtures are per test).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml
from podiam_testenv.agent import BASE_ROLE_ARN, DEPLOY, podiam_binary
from podiam_testenv.imds_client import ACCOUNT, ALLOWED, CREDS, ROLE_KEY, request, run_pod
from podiam_testenv.kube import Kube, unique
from podiam_testenv.kube import apply_crd as kube_apply_crd
from podiam_testenv.kube import install_crd as kube_install_crd
from podiam_testenv.webhook import TEST_LABEL, Webhook, WebhookCerts

pytestmark = pytest.mark.e2e

IRSA_ROLE = "arn:aws:iam::111122223333:role/s3-reader"
CC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cc"
PIA = "/apis/podiam.io/v1alpha1/namespaces/{ns}/podidentityassociations"
WAIT = 60


def explain(cluster, target: str, *flags: str) -> tuple[int, dict]:
    """`podiam explain pod TARGET -o json` with the agent's base ARN: exit code and document."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    r = subprocess.run([str(podiam_binary()), "explain", "pod", target,
                        f"--kubeconfig={cluster.kubeconfig}", "--base-role-arn", BASE_ROLE_ARN,
                        "-o", "json", *flags],
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode in (0, 1), f"exit {r.returncode}: {r.stderr}"
    assert "AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def install_crd(cluster) -> dict:
    """The shipped PodIdentityAssociation CRD, Established (as test_webhook.py installs it)."""
    return kube_install_crd(cluster.rest, yaml.safe_load(
        (DEPLOY.parent / "crds" / "podidentityassociations.podiam.io.yaml").read_text()))


def path(doc: dict, name: str) -> dict:
    return next(p for p in doc["paths"] if p["path"] == name)


@pytest.fixture(scope="module")
def world(cluster, tmp_path_factory):
    """A namespace covered by a running `podiam webhook`, with one pod per state."""
    install_crd(cluster)
    hook = Webhook(cluster, WebhookCerts(tmp_path_factory.mktemp("explain-certs")),
                   args=("--pod-identity-associations",)).start()
    k = Kube(cluster.rest)
    test_id = unique("explain")
    k.namespace = k.create_namespace(
        unique("explain"), labels={TEST_LABEL: test_id},
        annotations={ALLOWED: json.dumps(["app", CC_ROLE])})["metadata"]["name"]
    hook.register(test_id)
    ns = k.namespace
    pods = {}
    try:
        pods["no-role"] = k.run_pod("no-role")
        pods["allowed"] = k.run_pod("allowed", annotations={ROLE_KEY: "app"})
        pods["denied"] = k.run_pod("denied", annotations={ROLE_KEY: "admin"})
        pods["host-network"] = k.run_pod("host-network", annotations={ROLE_KEY: "app"},
                                         host_network=True)
        pods["no-ip"] = k.create_pod("no-ip", annotations={ROLE_KEY: "app"})
        k.create_service_account("irsa", annotations={"eks.amazonaws.com/role-arn": IRSA_ROLE})
        pods["irsa-mutated"] = k.run_pod("irsa-mutated", service_account="irsa")
        pods["irsa-not-mutated"] = k.run_pod(
            "irsa-not-mutated", service_account="irsa",
            labels={"eks.amazonaws.com/skip-pod-identity-webhook": "true"})
        k.create_service_account("cc")
        k.rest.post(PIA.format(ns=ns), {
            "apiVersion": "podiam.io/v1alpha1", "kind": "PodIdentityAssociation",
            "metadata": {"name": "cc"}, "spec": {"serviceAccount": "cc", "roleArn": CC_ROLE}})
        deadline = time.monotonic() + 10
        while True:  # the association reaches the webhook through its watch
            pod = k.run_pod(unique("associated"), service_account="cc")
            env = {e["name"] for e in pod["spec"]["containers"][0].get("env", [])}
            if "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        pods["associated"] = pod
        yield k, {key: f"{ns}/{p['metadata']['name']}" for key, p in pods.items()}
    finally:
        k.delete_namespace(ns)
        for name in hook.configs:
            cluster.rest.delete(
                f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}",
                ok=(404,))
        assert hook.stop() == 0, hook.log_tail()


@pytest.mark.parametrize("state,imds,role", [
    ("no-role", "no_role", ""),
    ("allowed", "allowed", BASE_ROLE_ARN + "app"),
    ("denied", "denied", BASE_ROLE_ARN + "admin"),
    ("host-network", "not_applicable", ""),
    ("no-ip", "pending", BASE_ROLE_ARN + "app"),
])
def test_imds_path_verdicts(cluster, world, state, imds, role):
    _, pods = world
    code, doc = explain(cluster, pods[state])
    p = path(doc, "imds")
    assert p["verdict"] == imds, p
    assert p["role"] == role, p
    assert (p["fix"] == "") == (imds == "allowed"), p
    assert code == (0 if imds == "allowed" else 1)
    if state == "denied":
        assert "no entry of iam.amazonaws.com/allowed-roles matches" in p["reason"], p
        assert '"admin"' in p["fix"] and ALLOWED in p["fix"], p
    if state == "host-network":
        assert p["steps"][0]["check"] == "host-network" and p["steps"][0]["status"] == "refused"


def test_irsa_mutated_and_not_mutated(cluster, world):
    _, pods = world
    code, doc = explain(cluster, pods["irsa-mutated"])
    irsa = path(doc, "irsa")
    assert (irsa["verdict"], irsa["role"]) == ("allowed", IRSA_ROLE), irsa
    assert code == 0
    _, doc = explain(cluster, pods["irsa-not-mutated"])
    irsa = path(doc, "irsa")
    assert irsa["verdict"] == "not_mutated", irsa
    assert "recreate the pod" in irsa["fix"], irsa
    _, doc = explain(cluster, pods["allowed"])
    assert path(doc, "irsa")["verdict"] == "no_role"


def test_association_gives_container_credentials(cluster, world):
    _, pods = world
    code, doc = explain(cluster, pods["associated"])
    cc = path(doc, "container-credentials")
    assert (cc["verdict"], cc["role"]) == ("allowed", CC_ROLE), cc
    assert [s["status"] for s in cc["steps"] if s["check"] == "token-injected"] == ["ok"], cc
    assert path(doc, "irsa")["verdict"] == "no_role"
    assert code == 0
    _, doc = explain(cluster, pods["no-role"])
    assert path(doc, "container-credentials")["verdict"] == "no_role"


def test_text_output_and_a_missing_pod(cluster, world):
    _, pods = world
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    r = subprocess.run([str(podiam_binary()), "explain", "pod", pods["denied"],
                        f"--kubeconfig={cluster.kubeconfig}", "--base-role-arn", BASE_ROLE_ARN],
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1, r.stderr
    assert "verdict imds: DENIED " + BASE_ROLE_ARN + "admin" in r.stdout
    assert "\x1b" not in r.stdout  # not a terminal: no colour
    ns = pods["denied"].split("/")[0]
    r = subprocess.run([str(podiam_binary()), "explain", "pod", f"{ns}/nope",
                        f"--kubeconfig={cluster.kubeconfig}"],
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and "cannot explain" in r.stderr and "nope" in r.stderr, r.stderr


def test_the_agent_answers_what_explain_says(cluster, kube, pods, start_agent):
    """The same pods, asked through the E2E agent's IMDS: explain's allowed is a 200 listing the
    role, denied a 403 with the same reason, no_role a 404."""
    start_agent()
    ns = kube.create_namespace(annotations={ALLOWED: json.dumps(["app"])})["metadata"]["name"]
    ok, refused, plain = pods(3)
    objs = {"allowed": (ok, run_pod(kube, ok, ns, role="app")),
            "denied": (refused, run_pod(kube, refused, ns, role="admin")),
            "no_role": (plain, run_pod(kube, plain, ns))}
    expected_status = {"allowed": 200, "denied": 403, "no_role": 404}
    for verdict, (pod, obj) in objs.items():
        _, doc = explain(cluster, f"{ns}/{obj['metadata']['name']}")
        p = path(doc, "imds")
        assert p["verdict"] == verdict, p
        deadline = time.monotonic() + WAIT
        while True:
            status, _, body = request(pod, "GET", CREDS)
            if status == expected_status[verdict] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == expected_status[verdict], (verdict, status, body)
        if verdict == "allowed":
            assert body == "app" and p["role"] == BASE_ROLE_ARN + "app"
        if verdict == "denied":
            assert "no entry of iam.amazonaws.com/allowed-roles matches" in body, body


# ---------------------------------------------------------------------------------------------
# The controller path (issue 19): AWSIAMRoles (both CRDs, server-side applied) whose status the
# test writes through the status subresource as the controller would, and pods in each state.

CRDS = DEPLOY.parent / "crds"


def apply_awsiamrole_crds(cluster) -> None:
    """Both AWSIAMRole CRDs, server-side applied, Established."""
    for filename in ("awsiamroles.podiam.io.yaml", "awsiamroles.zalando.org.yaml"):
        kube_apply_crd(cluster.rest, yaml.safe_load((CRDS / filename).read_text()))


def awsiamrole(cluster, ns: str, name: str, spec: dict, ready: str | None = None,
               reason: str = "CredentialsReady", message: str = "",
               group: str = "podiam.io") -> dict:
    """Creates an AWSIAMRole; with `ready`, writes its status through the status subresource."""
    base = f"/apis/{group}/v1/namespaces/{ns}/awsiamroles"
    obj = cluster.rest.post(base, {"apiVersion": f"{group}/v1", "kind": "AWSIAMRole",
                                   "metadata": {"name": name}, "spec": spec})
    if ready is not None:
        gen = obj["metadata"]["generation"]
        cluster.rest.patch(f"{base}/{name}/status", {"status": {
            "observedGeneration": gen, "expiration": "2030-01-01T00:00:00Z",
            "secretName": spec.get("secretName", name),
            "conditions": [{"type": "Ready", "status": ready, "reason": reason,
                            "message": message or f"status {reason}", "observedGeneration": gen,
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    return obj


def mounting(secret: str, mount: str = "/var/run/aws", env: dict | None = None) -> dict:
    """A pod spec mounting Secret `secret` at `mount`, with `env` in its container."""
    container = {"name": "app", "image": "registry.invalid/podiam-test:none",
                 "volumeMounts": [{"name": "aws", "mountPath": mount, "readOnly": True}]}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"containers": [container], "volumes": [{"name": "aws", "secret": {"secretName": secret}}]}


@pytest.fixture(scope="module")
def controller_world(cluster):
    """A namespace allowing role `app` with AWSIAMRoles in each state and one pod per state."""
    apply_awsiamrole_crds(cluster)
    k = Kube(cluster.rest)
    ns = k.namespace = k.create_namespace(
        unique("explain-ctrl"), annotations={ALLOWED: json.dumps(["app"])})["metadata"]["name"]
    config = {"AWS_CONFIG_FILE": "/var/run/aws/credentials.process"}
    try:
        awsiamrole(cluster, ns, "app", {"roleReference": "app"}, ready="True",
                   message=f"Secret app holds credentials for {BASE_ROLE_ARN}app")
        awsiamrole(cluster, ns, "admin", {"roleReference": "admin"}, ready="False",
                   reason="Denied")
        awsiamrole(cluster, ns, "failing", {"roleReference": "app", "secretName": "failing-aws"},
                   ready="False", reason="GetCredentialsFailed",
                   message="AssumeRole failed: AccessDenied: not authorized")
        awsiamrole(cluster, ns, "new", {"roleReference": "app"})
        awsiamrole(cluster, ns, "legacy", {"roleReference": "app"}, ready="True",
                   group="zalando.org")
        pods = {
            "ok": k.run_pod("ctrl-ok", spec=mounting("app", env=config)),
            "static": k.run_pod("ctrl-static", spec=mounting(
                "app", "/etc/aws/", {"AWS_SHARED_CREDENTIALS_FILE": "/etc/aws/credentials"})),
            "no-env": k.run_pod("ctrl-no-env", spec=mounting("app")),
            "unmounted": k.run_pod("ctrl-unmounted"),
            "denied": k.run_pod("ctrl-denied", spec=mounting("admin", env=config)),
            "not-ready": k.run_pod("ctrl-not-ready", spec=mounting("failing-aws", env=config)),
            "pending": k.run_pod("ctrl-pending", spec=mounting("new", env=config)),
            "zalando": k.run_pod("ctrl-zalando", spec=mounting("legacy", env=config)),
        }
        yield {key: f"{ns}/{p['metadata']['name']}" for key, p in pods.items()}
    finally:
        k.delete_namespace(ns)


@pytest.mark.parametrize("state,verdict,role,reason,fix", [
    ("ok", "allowed", BASE_ROLE_ARN + "app", "Secret app holds credentials", ""),
    ("static", "allowed", BASE_ROLE_ARN + "app", "Secret app holds credentials", ""),
    ("no-env", "allowed", BASE_ROLE_ARN + "app", "Secret app holds credentials",
     "set AWS_CONFIG_FILE=/var/run/aws/credentials.process in container app"),
    ("unmounted", "not_mounted", "", "does not mount the Secret", "secretName: "),
    ("denied", "denied", BASE_ROLE_ARN + "admin",
     "no entry of iam.amazonaws.com/allowed-roles matches", "podiam explain policy"),
    ("not-ready", "not_ready", BASE_ROLE_ARN + "app",
     "not Ready (GetCredentialsFailed): AssumeRole failed: AccessDenied",
     "podiam explain trust --role " + BASE_ROLE_ARN + "app --path controller"),
    ("pending", "pending", BASE_ROLE_ARN + "app", "has not been reconciled", "podiam controller"),
    ("zalando", "allowed", BASE_ROLE_ARN + "app", "status CredentialsReady", ""),
])
def test_controller_path_verdicts(cluster, controller_world, state, verdict, role, reason, fix):
    code, doc = explain(cluster, controller_world[state], "--cluster-name", "prod")
    p = path(doc, "controller")
    assert (p["verdict"], p["role"]) == (verdict, role), p
    assert reason in p["reason"], p
    assert (fix in p["fix"]) if fix else p["fix"] == "", p
    assert code == (0 if verdict == "allowed" else 1), doc
    if state == "ok":
        steps = {s["check"]: s for s in p["steps"]}
        ns = controller_world[state].split("/")[0]
        assert f"ExternalId '{ns}/prod'" in steps["session"]["detail"], steps
        assert steps["sdk-environment"]["status"] == "ok", steps
    if state == "zalando":
        assert "zalando.org/v1" in p["steps"][0]["detail"], p


def test_controller_path_without_awsiamroles_and_in_text(cluster, world, controller_world):
    _, pods = world
    code, doc = explain(cluster, pods["no-role"])
    p = path(doc, "controller")
    assert p["verdict"] == "no_role" and "has no AWSIAMRole" in p["reason"], p
    assert "create an AWSIAMRole" in p["fix"], p
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    r = subprocess.run([str(podiam_binary()), "explain", "pod", controller_world["denied"],
                        f"--kubeconfig={cluster.kubeconfig}", "--base-role-arn", BASE_ROLE_ARN],
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1, r.stderr
    assert "controller path, pod " in r.stdout, r.stdout
    assert "verdict controller: DENIED " + BASE_ROLE_ARN + "admin" in r.stdout, r.stdout
