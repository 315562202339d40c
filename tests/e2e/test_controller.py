"""`podiam controller` against the real kube-apiserver and kube-controller-manager, with moto
behind the counting proxy: the CRDs apply (server-side apply) and validate, AWSIAMRoles become
Secrets whose files unmodified SDKs use, the namespace policy and external ID hold, and the real
garbage collector removes a Secret with its AWSIAMRole.

One controller per module; each test has its own namespace.
"""

from __future__ import annotations

import time

import pytest
import yaml

from podiam_testenv import paths
from podiam_testenv.cluster import ApiError

pytestmark = pytest.mark.e2e

CRDS = paths.REPO / "deploy" / "crds"
CRD_FILES = ("awsiamroles.podiam.io.yaml", "awsiamroles.zalando.org.yaml")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def apply_crd(cluster, filename: str) -> dict:
    """Server-side apply, as `kubectl apply --server-side`, then waits until Established."""
    crd = yaml.safe_load((CRDS / filename).read_text())
    name = crd["metadata"]["name"]
    got = cluster.rest.patch(f"{CRD_PATH}/{name}", crd, patch_type="apply",
                             params={"fieldManager": "podiam-test", "force": "true"})
    deadline = time.monotonic() + 30
    while not any(c["type"] == "Established" and c["status"] == "True"
                  for c in (got.get("status") or {}).get("conditions") or []):
        assert time.monotonic() < deadline, got
        time.sleep(0.2)
        got = cluster.rest.get(f"{CRD_PATH}/{name}")
    return got


def roles_path(group: str, namespace: str, name: str = "") -> str:
    base = f"/apis/{group}/v1/namespaces/{namespace}/awsiamroles"
    return f"{base}/{name}" if name else base


@pytest.fixture(scope="module")
def crds(cluster):
    for f in CRD_FILES:
        got = apply_crd(cluster, f)
        names = got["status"].get("conditions") or []
        assert not any(c["type"] == "NonStructuralSchema" for c in names), got["status"]
    return True


@pytest.mark.parametrize("filename", CRD_FILES)
def test_crd_applies_server_side_and_is_structural(cluster, crds, filename):
    got = apply_crd(cluster, filename)  # a second apply is a no-op, not a conflict
    conditions = {c["type"]: c["status"] for c in got["status"]["conditions"]}
    assert conditions.get("Established") == "True"
    assert conditions.get("NamesAccepted") == "True"
    assert "NonStructuralSchema" not in conditions


@pytest.mark.parametrize("group", ["podiam.io", "zalando.org"])
def test_crd_accepts_every_role_reference_form(cluster, kube, crds, group):
    for i, ref in enumerate(["app", "team/app", "/team/sub/app",
                             "arn:aws:iam::123456789012:role/app",
                             "arn:aws-cn:iam::123456789012:role/path/app",
                             "arn:aws-us-gov:iam::123456789012:role/app"]):
        body = {"apiVersion": f"{group}/v1", "kind": "AWSIAMRole",
                "metadata": {"name": f"r{i}"}, "spec": {"roleReference": ref}}
        got = cluster.rest.post(roles_path(group, kube.namespace), body)
        assert got["spec"]["roleReference"] == ref
        if group == "podiam.io":
            assert got["spec"]["externalIdPolicy"] == "Namespace"  # the schema's default


@pytest.mark.parametrize("group,spec,message", [
    ("podiam.io", {"roleReference": "arn:aws:s3:::bucket"}, "spec.roleReference"),
    ("podiam.io", {"roleReference": "a b"}, "spec.roleReference"),
    ("podiam.io", {"roleReference": "app", "roleSessionDuration": 60},
     "spec.roleSessionDuration"),
    ("podiam.io", {"roleReference": "app", "externalIdPolicy": "Other"},
     "spec.externalIdPolicy"),
    ("podiam.io", {"roleReference": "app", "secretName": "Not_A_Name"}, "spec.secretName"),
    ("podiam.io", {}, "spec.roleReference: Required value"),
    ("zalando.org", {"roleReference": "arn:aws:iam::12:role/x"}, "spec.roleReference"),
    ("zalando.org", {"roleReference": "app", "roleSessionDuration": 50000},
     "spec.roleSessionDuration"),
])
def test_crd_rejects_invalid_objects_with_the_schemas_message(cluster, kube, crds, group, spec,
                                                               message):
    body = {"apiVersion": f"{group}/v1", "kind": "AWSIAMRole", "metadata": {"name": "bad"},
            "spec": spec}
    with pytest.raises(ApiError) as e:
        cluster.rest.post(roles_path(group, kube.namespace), body)
    assert e.value.status == 422, e.value
    assert message in str(e.value), e.value
