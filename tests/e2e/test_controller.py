"""`podiam controller` against the real kube-apiserver and kube-controller-manager, with moto
behind the counting proxy: the CRDs apply (server-side apply) and validate, AWSIAMRoles become
Secrets whose files unmodified SDKs use, roles in aws-cn and aws-us-gov (full ARNs, and names
under a --base-role-arn in aws-cn) reach STS with that RoleArn, the namespace policy and external
ID hold, and the real garbage collector removes a Secret with its AWSIAMRole.

One controller per module; each test has its own namespace.
"""

from __future__ import annotations

import time

import pytest
import yaml

from podiam_testenv import gosdk, paths
from podiam_testenv.cluster import ApiError
from podiam_testenv.kube import apply_crd as kube_apply_crd

pytestmark = pytest.mark.e2e

CRDS = paths.REPO / "deploy" / "crds"
CRD_FILES = ("awsiamroles.podiam.io.yaml", "awsiamroles.zalando.org.yaml")


def apply_crd(cluster, filename: str) -> dict:
    """Server-side apply, as `kubectl apply --server-side`, then waits until Established."""
    return kube_apply_crd(cluster.rest, yaml.safe_load((CRDS / filename).read_text()))


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


# ---------------------------------------------------------------------------------------------
# The controller itself: one process per module, with the deploy/controller RBAC (so the test
# also proves those permissions are enough), the real garbage collector, moto behind the proxy.

import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

from podiam_testenv.agent import podiam_binary  # noqa: E402
from podiam_testenv.moto import free_port  # noqa: E402

ACCOUNT = "123456789012"
BASE = f"arn:aws:iam::{ACCOUNT}:role/"
CLUSTER_NAME = "e2e"
ROLES = "/apis/podiam.io/v1/namespaces/{ns}/awsiamroles"
RBAC = paths.REPO / "deploy" / "controller" / "rbac.yaml"
LEASE = "podiam-controller-e2e"


def apply_rbac(cluster) -> None:
    for doc in yaml.safe_load_all(RBAC.read_text()):
        kind, name = doc["kind"], doc["metadata"]["name"]
        ns = doc["metadata"].get("namespace")
        url = {"ServiceAccount": f"/api/v1/namespaces/{ns}/serviceaccounts",
               "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
               "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
               "Role": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
               "RoleBinding": f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
               }[kind]
        cluster.rest.patch(f"{url}/{name}", doc, patch_type="apply",
                           params={"fieldManager": "podiam-test", "force": "true"})


class Controller:
    def __init__(self, cluster, sts, *args: str, name: str = "podiam-controller-test",
                 base: str = BASE):
        self.cluster, self.sts, self.args, self.name, self.base = cluster, sts, args, name, base
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-controller-"))
        self.log_path = self.dir / "controller.log"
        self.ops_port = free_port()

    def start(self) -> "Controller":
        apply_rbac(self.cluster)
        token = self.cluster.rest.post(
            "/api/v1/namespaces/kube-system/serviceaccounts/podiam-controller/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": 3600}})["status"]["token"]
        kubeconfig = self.dir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "t", "cluster": {"server": self.cluster.server,
                                                   "certificate-authority": self.cluster.ca_file}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "t", "user": "u"}}]}))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.dir),
               "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
               "AWS_SECRET_ACCESS_KEY": "controller-secret-not-for-pods",
               "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "PODIAM_LOG_LEVEL": "debug", "POD_NAME": self.name}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [podiam_binary(), "controller", "--kubeconfig", str(kubeconfig),
             "--sts-endpoint", self.sts.endpoint, "--base-role-arn", self.base,
             "--cluster-name", CLUSTER_NAME, "--metrics-listen", f"127.0.0.1:{self.ops_port}",
             "--zalando-awsiamroles", "--leader-election-namespace", "kube-system",
             "--leader-election-id", LEASE, *self.args],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log_tail()
            try:
                if requests.get(f"http://127.0.0.1:{self.ops_port}/readyz", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, self.log_tail()
            time.sleep(0.2)

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.ops_port}/metrics", timeout=5).text

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code


@pytest.fixture(scope="module")
def controller(cluster, crds, sts):
    sts.moto.create_role("app")
    sts.moto.create_role("deep", path="/team/sub/")
    c = Controller(cluster, sts).start()
    yield c
    code = c.stop()
    text = c.log_path.read_text(errors="replace")
    assert "ERROR: AddressSanitizer" not in text, c.log_tail(120)
    assert "controller-secret-not-for-pods" not in text
    assert code == 0, c.log_tail()


def allow(kube, roles: str) -> None:
    kube.rest.patch(
        f"/api/v1/namespaces/{kube.namespace}",
        {"metadata": {"annotations": {"iam.amazonaws.com/allowed-roles": roles}}})


def make_role(cluster, ns: str, name: str, spec: dict, group: str = "podiam.io") -> dict:
    return cluster.rest.post(roles_path(group, ns, ""),
                             {"apiVersion": f"{group}/v1", "kind": "AWSIAMRole",
                              "metadata": {"name": name}, "spec": spec})


def wait_for(what, check, timeout: float = 30, controller=None):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            tail = controller.log_tail() if controller else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.2)


def secret_files(cluster, ns: str, name: str) -> dict | None:
    try:
        s = cluster.rest.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    except ApiError as e:
        if e.status == 404:
            return None
        raise
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def ready(cluster, ns: str, name: str, group: str = "podiam.io") -> dict | None:
    got = cluster.rest.get(roles_path(group, ns, name))
    for c in (got.get("status") or {}).get("conditions") or []:
        if c["type"] == "Ready" and c.get("observedGeneration") == got["metadata"]["generation"]:
            return got
    return None


def events_for(cluster, ns: str, name: str) -> list[dict]:
    items = cluster.rest.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
    return [e for e in items if e["regarding"].get("name") == name]


def mount(files: dict, where: Path) -> Path:
    """Writes the Secret's keys as kubelet would (one file per key) at an arbitrary path."""
    where.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        (where / key).write_text(value)
    return where


def sdk_env(sts, **extra: str) -> dict:
    env = {"PATH": f"{podiam_binary().parent}:{os.environ['PATH']}", "HOME": "/nonexistent",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL_STS": sts.moto.endpoint,
           "AWS_CONFIG_FILE": "/nonexistent/config",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials"}
    env.update(extra)
    return env


BOTO3_WHOAMI = ("import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])")


def test_role_becomes_a_secret_that_sdks_use_wherever_mounted(cluster, kube, controller, sts,
                                                                tmp_path):
    allow(kube, json.dumps(["app"]))
    make_role(cluster, kube.namespace, "app", {"roleReference": "app"})
    files = wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "app"),
                     controller=controller)
    assert set(files) == {"credentials", "credentials.json", "credentials.process", "role-arn",
                          "expiration"}
    assert files["role-arn"] == f"{BASE}app"
    got = wait_for("Ready", lambda: ready(cluster, kube.namespace, "app"), controller=controller)
    status = got["status"]
    assert status["roleARN"] == f"{BASE}app"
    assert status["secretName"] == "app"
    assert status["expiration"] == files["expiration"]
    cond = status["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("True", "CredentialsReady"), cond

    # The external ID and session name STS saw.
    calls = sts.requests("AssumeRole")
    assert calls, sts.stats()
    params = calls[-1]["params"]
    assert params["ExternalId"] == f"{kube.namespace}/{CLUSTER_NAME}"
    assert params["RoleSessionName"] == f"{kube.namespace}.app"

    # Mounted at an arbitrary path: the static credentials file, then credential_process.
    where = mount(files, tmp_path / "some" / "where")
    expect = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/{kube.namespace}.app"
    out = subprocess.run([str(paths.PYTHON), "-c", BOTO3_WHOAMI], capture_output=True, text=True,
                         timeout=60, env=sdk_env(sts, AWS_SHARED_CREDENTIALS_FILE=str(
                             where / "credentials")))
    assert out.stdout.strip() == expect, out.stderr
    process_env = sdk_env(sts, AWS_CONFIG_FILE=str(where / "credentials.process"))
    out = subprocess.run([str(paths.PYTHON), "-c", BOTO3_WHOAMI], capture_output=True, text=True,
                         timeout=60, env=process_env)
    assert out.stdout.strip() == expect, out.stderr
    out = subprocess.run([str(paths.AWS_CLI), "sts", "get-caller-identity", "--query", "Arn",
                          "--output", "text"], capture_output=True, text=True, timeout=60,
                         env=process_env)
    assert out.stdout.strip() == expect, out.stderr
    # The JS SDK v3 and the Go SDK v2 run credential_process through `sh -c` (docs/controller.md).
    for cmd, cwd in (([paths.tool("node"), str(paths.JS_DIR / "whoami.mjs")], paths.JS_DIR),
                     ([str(gosdk.whoami_binary())], None)):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=process_env,
                             cwd=cwd)
        assert out.returncode == 0 and json.loads(out.stdout)["Arn"] == expect, out.stderr

    # A new version of the Secret, written as kubelet does (atomic swap of the files): the
    # credential_process path reads the new credentials.json on the next start.
    newer = json.loads(files["credentials.json"])
    fresh = sts.moto.assume_role(f"{BASE}app", f"{kube.namespace}.app")
    newer.update(AccessKeyId=fresh["AccessKeyId"], SecretAccessKey=fresh["SecretAccessKey"],
                 SessionToken=fresh["SessionToken"])
    tmp = where / "credentials.json.tmp"
    tmp.write_text(json.dumps(newer))
    os.replace(tmp, where / "credentials.json")
    out = subprocess.run([str(podiam_binary()), "credential-process"], capture_output=True,
                         text=True, timeout=30, env=process_env)
    assert json.loads(out.stdout)["AccessKeyId"] == fresh["AccessKeyId"], out.stderr

    normal = [e for e in events_for(cluster, kube.namespace, "app") if e["type"] == "Normal"]
    assert any(e["reason"] == "CredentialsReady" for e in normal), normal
    assert 'podiam_controller_reconciles_total{result="ok"}' in controller.metrics()


def test_role_with_path_and_long_names(cluster, kube, controller, sts):
    allow(kube, json.dumps(["team/*"]))
    name = "a-very-long-awsiamrole-name-" + "x" * 40
    make_role(cluster, kube.namespace, name, {"roleReference": "team/sub/deep",
                                              "secretName": "deep-creds"})
    files = wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "deep-creds"),
                     controller=controller)
    assert files["role-arn"] == f"{BASE}team/sub/deep"
    session = [r["params"]["RoleSessionName"] for r in sts.requests("AssumeRole")
               if r["params"]["RoleArn"] == f"{BASE}team/sub/deep"][-1]
    assert len(session) <= 64 and session.startswith(kube.namespace + "."), session
    creds = json.loads(files["credentials.json"])
    assert creds["Version"] == 1 and creds["AccessKeyId"]


def assumed(sts, role_arn: str) -> list[dict]:
    """The AssumeRole requests that reached the counting proxy for `role_arn`."""
    return [r["params"] for r in sts.requests("AssumeRole") if r["params"]["RoleArn"] == role_arn]


@pytest.mark.parametrize("role_arn", [f"arn:aws-cn:iam::{ACCOUNT}:role/path/app",
                                      f"arn:aws-us-gov:iam::{ACCOUNT}:role/app"])
def test_roles_in_other_partitions_are_reconciled(cluster, kube, controller, sts, role_arn):
    """A full ARN in aws-cn / aws-us-gov: the controller calls AssumeRole with that RoleArn (moto
    answers for any partition; the proxy records the request) and the Secret names it."""
    allow(kube, json.dumps([role_arn]))
    make_role(cluster, kube.namespace, "other", {"roleReference": role_arn})
    files = wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "other"),
                     controller=controller)
    assert files["role-arn"] == role_arn
    assert json.loads(files["credentials.json"])["AccessKeyId"]
    got = wait_for("Ready", lambda: ready(cluster, kube.namespace, "other"), controller=controller)
    assert got["status"]["roleARN"] == role_arn
    assert got["status"]["conditions"][0]["reason"] == "CredentialsReady", got["status"]
    calls = assumed(sts, role_arn)
    assert len(calls) == 1, calls
    assert calls[0]["ExternalId"] == f"{kube.namespace}/{CLUSTER_NAME}"
    assert calls[0]["RoleSessionName"] == f"{kube.namespace}.other"


def test_names_resolve_in_the_controllers_partition(cluster, kube, controller, sts):
    """With --base-role-arn in aws-cn, a bare name and a name with a path become aws-cn ARNs;
    with --session-tags the requests carry the session tags. The module's controller (base in
    aws) steps aside for the test, so one controller leads."""
    base = f"arn:aws-cn:iam::{ACCOUNT}:role/cn/"
    expect = {"plain": ("app", f"{base}app"), "pathed": ("/team/app", f"{base}team/app")}
    allow(kube, json.dumps(["app", "team/app"]))
    controller.stop()
    # --namespace: leave other tests' (still terminating) namespaces alone.
    other = Controller(cluster, sts, "--session-tags", "--namespace", kube.namespace,
                       name="podiam-controller-cn", base=base).start()
    try:
        for name, (reference, _) in expect.items():
            make_role(cluster, kube.namespace, name, {"roleReference": reference})
        for name, (_, role_arn) in expect.items():
            files = wait_for("the Secret", lambda n=name: secret_files(cluster, kube.namespace, n),
                             controller=other)
            assert files["role-arn"] == role_arn
            got = wait_for("Ready", lambda n=name: ready(cluster, kube.namespace, n),
                           controller=other)
            assert got["status"]["roleARN"] == role_arn, got["status"]
            calls = [c for c in assumed(sts, role_arn)
                     if c["RoleSessionName"] == f"{kube.namespace}.{name}"]
            assert len(calls) == 1, calls
            # --session-tags: the agent's tag keys, with the AWSIAMRole in the pod's place.
            tags = {calls[0][f"Tags.member.{i}.Key"]: calls[0][f"Tags.member.{i}.Value"]
                    for i in (1, 2, 3)}
            assert tags == {"kubernetes-namespace": kube.namespace,
                            "kubernetes-awsiamrole": name, "cluster-name": CLUSTER_NAME}, calls
    finally:
        assert other.stop() == 0, other.log_tail()
        controller.start()


def test_denied_role_gets_status_and_event_but_no_secret(cluster, kube, controller, sts):
    allow(kube, json.dumps(["app"]))
    make_role(cluster, kube.namespace, "admin", {"roleReference": "admin"})
    got = wait_for("Denied", lambda: ready(cluster, kube.namespace, "admin"),
                   controller=controller)
    cond = got["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "Denied"), cond
    assert secret_files(cluster, kube.namespace, "admin") is None
    events = wait_for("a Denied event", lambda: [
        e for e in events_for(cluster, kube.namespace, "admin") if e["reason"] == "Denied"])
    assert events[0]["type"] == "Warning"
    assert not [r for r in sts.requests("AssumeRole") if r["params"]["RoleArn"].endswith("/admin")]


def test_foreign_secret_is_a_conflict_until_annotated(cluster, kube, controller):
    allow(kube, json.dumps(["app"]))
    cluster.rest.post(f"/api/v1/namespaces/{kube.namespace}/secrets",
                      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"},
                       "stringData": {"mine": "yes"}})
    make_role(cluster, kube.namespace, "app", {"roleReference": "app"})
    got = wait_for("SecretConflict", lambda: ready(cluster, kube.namespace, "app"),
                   controller=controller)
    assert got["status"]["conditions"][0]["reason"] == "SecretConflict"
    assert secret_files(cluster, kube.namespace, "app") == {"mine": "yes"}
    cluster.rest.patch(f"/api/v1/namespaces/{kube.namespace}/secrets/app",
                       {"metadata": {"annotations": {"podiam.io/adopt": "true"}}})
    # Adoption happens at the next look (resync or role change): touch the role.
    cluster.rest.patch(roles_path("podiam.io", kube.namespace, "app"),
                       {"spec": {"roleSessionDuration": 1800}})
    files = wait_for("adoption", lambda: (secret_files(cluster, kube.namespace, "app") or {})
                     .get("role-arn"), controller=controller)
    assert files == f"{BASE}app"


def test_deleting_the_role_garbage_collects_the_secret(cluster, kube, controller):
    allow(kube, json.dumps(["app"]))
    make_role(cluster, kube.namespace, "app", {"roleReference": "app"})
    wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "app"),
             controller=controller)
    cluster.rest.delete(roles_path("podiam.io", kube.namespace, "app"))
    wait_for("garbage collection", lambda: secret_files(cluster, kube.namespace, "app") is None,
             timeout=60)


def test_zalando_objects_keep_working(cluster, kube, controller):
    allow(kube, json.dumps(["app"]))
    make_role(cluster, kube.namespace, "legacy", {"roleReference": "app",
                                                  "roleSessionDuration": 3600},
              group="zalando.org")
    files = wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "legacy"),
                     controller=controller)
    assert files["role-arn"] == f"{BASE}app"
    got = wait_for("Ready", lambda: ready(cluster, kube.namespace, "legacy", "zalando.org"))
    assert got["status"]["roleARN"] == f"{BASE}app"


def test_credential_process_refuses_clearly(tmp_path):
    env = {"PATH": os.environ["PATH"], "AWS_CONFIG_FILE": str(tmp_path / "credentials.process")}
    run = lambda *a, **kw: subprocess.run([str(podiam_binary()), "credential-process", *a],  # noqa: E731
                                          capture_output=True, text=True, timeout=30, **kw)
    out = run(env={"PATH": os.environ["PATH"]})
    assert out.returncode == 1 and "AWS_CONFIG_FILE" in out.stderr, out.stderr
    assert out.stdout == ""
    out = run(env=env)
    assert out.returncode == 1 and "cannot read" in out.stderr, out.stderr
    (tmp_path / "credentials.json").write_text('{"Version": 1, "AccessKeyId": "A", '
                                               '"SecretAccessKey": "very-secret-value", '
                                               '"Expiration": "2020-01-01T00:00:00Z"}')
    out = run(env=env)
    assert out.returncode == 1 and "expired" in out.stderr, out.stderr
    assert "very-secret-value" not in out.stderr
    (tmp_path / "credentials.json").write_text("not json")
    out = run(env=env)
    assert out.returncode == 1 and "not a JSON object" in out.stderr, out.stderr


def lease_holder(cluster) -> str:
    try:
        lease = cluster.rest.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{LEASE}")
    except ApiError as e:
        if e.status == 404:
            return ""
        raise
    return lease["spec"].get("holderIdentity") or ""


def test_two_replicas_one_leader_and_takeover_without_double_sts_calls(cluster, kube, controller,
                                                                       sts):
    """The module's controller leads; a second replica waits. Killing the leader (SIGKILL: no
    release) hands over within the lease duration (15 s) plus a retry period; the roles keep
    one AssumeRole each."""
    allow(kube, json.dumps(["app"]))
    assert wait_for("a leader", lambda: lease_holder(cluster)) == controller.name
    second = Controller(cluster, sts, name="podiam-controller-second").start()
    try:
        make_role(cluster, kube.namespace, "app", {"roleReference": "app"})
        wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "app"),
                 controller=controller)
        time.sleep(3)
        mine = [r for r in sts.requests("AssumeRole")
                if r["params"]["RoleSessionName"] == f"{kube.namespace}.app"]
        assert len(mine) == 1, mine  # only the leader called STS
        assert "reconciling AWSIAMRoles" not in second.log_path.read_text()

        controller.proc.kill()
        controller.proc.wait()
        controller.log.close()
        started = time.monotonic()
        wait_for("the takeover", lambda: lease_holder(cluster) == second.name, timeout=40,
                 controller=second)
        assert time.monotonic() - started < 15 + 2 * 2 + 5
        # The new leader reconciles: a new role gets its Secret.
        make_role(cluster, kube.namespace, "after", {"roleReference": "app"})
        wait_for("the Secret", lambda: secret_files(cluster, kube.namespace, "after"),
                 controller=second)
    finally:
        assert second.stop() == 0, second.log_tail()
        # Give the module's fixture a running controller again for its teardown.
        controller.start()
