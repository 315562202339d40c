"""`podiam agent --credential-source vault` end to end (issue 21, docs/vault.md): a real Vault
server (dev mode, host loopback) whose AWS secrets engine calls moto through the counting STS
proxy, and whose Kubernetes auth method checks podiam's ServiceAccount token against the test
apiserver (TokenReview). Pods' unmodified SDKs get credentials that came from Vault."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from podiam_testenv.agent import apply_agent_rbac
from podiam_testenv.cluster import ApiError
from podiam_testenv.imds_client import ACCOUNT, WHOAMI_PY, assumed, namespace, raw, run_pod
from podiam_testenv.kube import Kube
from podiam_testenv.vault import VaultMissing, VaultServer

pytestmark = pytest.mark.e2e

VAULT_ROOT_KEY = "AKIAVAULTROOTEXAMPLE"
AUTH_ROLE = "podiam-agent"
POLICY = 'path "aws/sts/app" { capabilities = ["read", "update"] }\n'
ACCESS_KEY_PY = """
import boto3, json
c = boto3.Session().get_credentials().get_frozen_credentials()
print(json.dumps(c.access_key))
"""


def _ensure(rest, url: str, body: dict) -> None:
    try:
        rest.post(url, body)
    except ApiError as e:
        if e.status != 409:
            raise


@pytest.fixture(scope="module")
def vault(cluster, sts):
    """Vault configured as docs/vault.md describes, once per module; yields (server, token file)."""
    try:
        server = VaultServer.start()
    except VaultMissing as e:
        pytest.skip(f"no Vault binary (scripts/setup.d/47-vault.sh builds it): {e}")
    try:
        # Audit with raw values, so a test can find the access key a pod got in Vault's log.
        server.api("PUT", "sys/audit/file", {"type": "file", "options": {
            "file_path": str(server.audit_path), "log_raw": "true"}})
        server.api("POST", "sys/mounts/aws", {"type": "aws"})
        server.api("POST", "aws/config/root", {
            "access_key": VAULT_ROOT_KEY, "secret_key": "vault-root-secret",
            "region": "us-east-1", "sts_region": "us-east-1",
            "sts_endpoint": sts.endpoint, "iam_endpoint": sts.moto.endpoint})
        for role in ("app", "other"):
            server.api("POST", f"aws/roles/{role}", {
                "credential_type": "assumed_role",
                "role_arns": [f"arn:aws:iam::{ACCOUNT}:role/{role}"]})
        server.api("PUT", "sys/policies/acl/podiam-aws", {"policy": POLICY})

        # Kubernetes auth: Vault reviews podiam's token with a reviewer ServiceAccount's token.
        rest = cluster.rest
        apply_agent_rbac(cluster)  # kube-system/podiam-agent
        _ensure(rest, "/api/v1/namespaces/kube-system/serviceaccounts",
                {"metadata": {"name": "vault-reviewer"}})
        _ensure(rest, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": "vault-reviewer-auth-delegator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "vault-reviewer",
                          "namespace": "kube-system"}]})
        admin = Kube(rest)
        reviewer = admin.request_token("vault-reviewer", audiences=(), namespace="kube-system")
        server.api("POST", "sys/auth/kubernetes", {"type": "kubernetes"})
        server.api("POST", "auth/kubernetes/config", {
            "kubernetes_host": cluster.server,
            "kubernetes_ca_cert": Path(cluster.ca_file).read_text(),
            "token_reviewer_jwt": reviewer, "disable_local_ca_jwt": True})
        server.api("POST", f"auth/kubernetes/role/{AUTH_ROLE}", {
            "bound_service_account_names": ["podiam-agent"],
            "bound_service_account_namespaces": ["kube-system"],
            "audience": "vault", "token_policies": ["podiam-aws"], "token_ttl": "1h"})
        # podiam's own projected token, audience "vault" (what a projected volume gives it).
        token_file = Path(tempfile.mkdtemp(prefix="podiam-vault-token-")) / "token"
        token_file.write_text(admin.request_token(
            "podiam-agent", audiences=("vault",), namespace="kube-system",
            expiration_seconds=3600))
        yield server, token_file
    finally:
        server.stop()


@pytest.fixture
def vault_agent(vault, node, start_agent):
    server, token_file = vault
    if server.unseal_key:
        status = server.api("GET", "sys/seal-status", token=None)
        if status.get("sealed"):
            server.unseal()

    def start(*extra):
        agent = start_agent("--credential-source=vault",
                            f"--vault-addr={node.expose(server.url)}",
                            f"--vault-auth-role={AUTH_ROLE}",
                            f"--vault-token-file={token_file}", *extra)
        return agent
    yield start


def _no_vault_tokens_in_log(agent) -> None:
    text = agent.log_text()
    assert "hvs." not in text, "a Vault token in the agent log"
    assert "vault-root-secret" not in text


def test_pods_sdks_get_credentials_from_vault(kube, pods, vault, vault_agent, sts):
    server, _ = vault
    agent = vault_agent()
    assert agent.metric("podiam_vault_logins_total", result="ok") >= 1
    ns = namespace(kube, ["app", "other"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app")
    arn = json.loads(pod.python(WHOAMI_PY).stdout)
    assert arn == assumed("app", ns, obj)  # Vault passed podiam's session name on
    key = json.loads(pod.python(ACCESS_KEY_PY).stdout)
    # Issued through the STS proxy to Vault (signed with Vault's root key, not podiam's).
    issued = sts.issued(key)
    assert issued and issued["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/app", issued
    signers = {r["key_id"] for r in sts.requests("AssumeRole")}
    assert signers == {VAULT_ROOT_KEY}, signers
    # ... and Vault's audit log saw the request path and handed out that key.
    audit = server.audit_text()
    assert '"path":"aws/sts/app"' in audit
    assert key in audit
    cli = json.loads(pod.aws_cli(["sts", "get-caller-identity", "--output", "json"]).stdout)
    assert cli["Arn"] == assumed("app", ns, obj)
    js = json.loads(pod.node_js("whoami.mjs").stdout)
    assert js["Arn"] == assumed("app", ns, obj)
    assert agent.metric("podiam_vault_requests_total", op="sts", result="ok") >= 1
    _no_vault_tokens_in_log(agent)


def test_role_vault_policy_does_not_allow_is_refused_with_the_reason(kube, pods, vault_agent, sts):
    agent = vault_agent()
    ns = namespace(kube, ["app", "other"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="other")
    out = raw(pod, "out['c'] = call('GET', '/latest/meta-data/iam/security-credentials/other')[:2]")
    status, body = out["c"]
    assert status in (403, 503), out
    assert "VaultPermissionDenied" in body and "permission denied" in body, body
    assert sts.counts("AssumeRole") == 0
    assert agent.metric("podiam_vault_requests_total", op="sts",
                        result="VaultPermissionDenied") >= 1
    assert agent.metric("podiam_vault_logins_total", result="ok") == 1  # a policy no, not a relogin


def test_revoked_vault_token_means_a_new_login(kube, pods, vault, vault_agent):
    server, _ = vault
    agent = vault_agent()
    ns = namespace(kube, ["app"])
    first, second = pods(2)
    obj = run_pod(kube, first, ns, role="app")
    assert json.loads(first.python(WHOAMI_PY).stdout) == assumed("app", ns, obj)
    server.api("PUT", "sys/leases/revoke-prefix/auth/kubernetes/login")  # podiam's token too
    obj2 = run_pod(kube, second, ns, role="app")
    assert json.loads(second.python(WHOAMI_PY).stdout) == assumed("app", ns, obj2)
    assert agent.metric("podiam_vault_logins_total", result="ok") >= 2
    assert agent.metric("podiam_vault_requests_total", op="lookup",
                        result="VaultPermissionDenied") >= 1
    _no_vault_tokens_in_log(agent)


def test_sealed_vault_keeps_cached_credentials_served(kube, pods, vault, vault_agent):
    server, _ = vault
    agent = vault_agent()
    ns = namespace(kube, ["app"])
    cached, fresh = pods(2)
    run_pod(kube, cached, ns, role="app")
    before = json.loads(cached.python(ACCESS_KEY_PY).stdout)
    server.seal()
    try:
        assert json.loads(cached.python(ACCESS_KEY_PY).stdout) == before
        run_pod(kube, fresh, ns, role="app")
        out = raw(fresh, "out['c'] = call('GET', '/latest/meta-data/iam/security-credentials/app')[:2]")
        assert out["c"][0] == 503, out
        assert agent.metric("podiam_vault_requests_total", result="VaultSealed") >= 1
        assert "node-agent-secret" not in out["c"][1]
    finally:
        server.unseal()
