"""The migration guides' values (docs/migrate-kube2iam.md, docs/migrate-kiam.md,
docs/migrate-irsa-webhook.md, docs/migrate-zalando.md): the "after"
block of each renders with the pinned helm, every object is accepted by the kube-apiserver's
server-side dry-run, and the agent (and for kiam, podiam server) gets the flags the guide
promises; kiam's and kube2iam's "before" are accepted as they are, kiam's keys with no
equivalent are refused by name; kube-aws-iam-controller's object is accepted against the chart's
zalando.org CRD."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from podiam_testenv import paths
from podiam_testenv.agent import podiam_binary
from podiam_testenv.helm import HelmError
from podiam_testenv.moto import free_port

pytestmark = pytest.mark.integration

DOCS = paths.REPO / "docs"


def blocks(guide: str) -> dict[str, dict]:
    """The guide's ```yaml blocks whose first line is `# before: ...` or `# after: ...`."""
    out = {}
    for body in re.findall(r"```yaml\n(.*?)```", (DOCS / guide).read_text(), re.S):
        first = body.splitlines()[0]
        m = re.match(r"# (before|after):", first)
        if m:
            out[m[1]] = yaml.safe_load(body)
    assert set(out) == {"before", "after"}, f"{guide}: {sorted(out)}"
    return out


def render(helm, values: dict, tmp_path: Path, namespace: str):
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump(values))
    return helm.template("podiam", namespace, values=[f])


def accepted(api, docs, namespace):
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            api.ensure(doc)
    for doc in docs:
        if doc["kind"] != "CustomResourceDefinition":
            api.dry_run(doc, namespace)


def agent_args(docs):
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    return ds["spec"]["template"]["spec"]["containers"][0]["args"]


def test_kube2iam_after_renders_and_is_accepted(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-kube2iam.md")["after"], tmp_path, namespace)
    accepted(api, docs, namespace)
    args = agent_args(docs)
    for want in ("--iptables", "--host-interface=cali+", "--base-role-arn=arn:aws:iam::123456789012:role/",
                 "--default-role=kube2iam-default", "--iam-role-session-ttl=30m",
                 "--namespace-restrictions=false", "--metrics-listen=0.0.0.0:9543", "--region=eu-west-1"):
        assert want in args, args
    assert {d["kind"] for d in docs} >= {"ServiceMonitor", "DaemonSet", "ClusterRole"}


def test_kube2iam_before_is_accepted_as_it_is(helm, tmp_path):
    docs = render(helm, blocks("migrate-kube2iam.md")["before"], tmp_path, "kube-system")
    assert "--base-role-arn=arn:aws:iam::123456789012:role/" in agent_args(docs)


def server_args(docs):
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-server"))
    return dep["spec"]["template"]["spec"]["containers"][0]["args"]


def test_kiam_after_renders_and_is_accepted(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-kiam.md")["after"], tmp_path, namespace)
    accepted(api, docs, namespace)
    args = agent_args(docs)
    for want in ("--iptables", "--host-interface=cali+", "--listen=$(HOST_IP):8181",
                 "--base-role-arn=arn:aws:iam::123456789012:role/", "--log-format=json",
                 f"--server=https://podiam-server.{namespace}.svc:8443",
                 "--server-ca=/var/run/secrets/podiam/server/ca.crt",
                 "--server-token-file=/var/run/secrets/podiam/server/token"):
        assert want in args, args
    # The agents have no AWS identity and no client certificate: the token replaces kiam's.
    assert not [a for a in args if a.startswith(("--assume-role", "--session-duration", "--server-cert"))], args
    ds = next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    env = ds["containers"][0]["env"]
    assert {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"} in env
    assert not [e for e in env if e["name"] in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    sources = ds["volumes"][0]["projected"]["sources"]
    assert {"audience": "podiam-server", "expirationSeconds": 3600, "path": "token"} in \
        [s.get("serviceAccountToken") for s in sources]
    sargs = server_args(docs)
    for want in ("--assume-role=arn:aws:iam::123456789012:role/kiam-server", "--session-duration=1h",
                 "--base-role-arn=arn:aws:iam::123456789012:role/", "--log-format=json",
                 f"--agent-service-account={namespace}:podiam-agent"):
        assert want in sargs, sargs
    assert not any(a.startswith("--ca") for a in sargs)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["replicas"] == 3
    assert {d["kind"] for d in docs} >= {"Certificate", "Service", "PodDisruptionBudget"}
    sa = next(d for d in docs if d["kind"] == "ServiceAccount" and d["metadata"]["name"] == "podiam-server")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/podiam-server")


def test_kiam_before_renders_with_kiams_mutual_tls_and_is_accepted(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-kiam.md")["before"], tmp_path, namespace)
    accepted(api, docs, namespace)
    args = agent_args(docs)
    for want in ("--server-cert=/var/run/secrets/podiam/server/tls.crt",
                 "--server-key=/var/run/secrets/podiam/server/tls.key",
                 f"--server=https://podiam-server.{namespace}.svc:8443"):
        assert want in args, args
    sargs = server_args(docs)
    for want in ("--ca=/etc/podiam-server/tls/ca.pem",
                 "--assume-role=arn:aws:iam::123456789012:role/kiam-server"):
        assert want in sargs, sargs
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "kiam-server"
    assert dep["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "kiam-server-tls"


def test_kiam_chart_keys_without_an_equivalent_are_refused_by_name(helm, tmp_path):
    values = blocks("migrate-kiam.md")["before"]
    values["server"]["keepaliveParams"] = {"time": "10s"}
    values["agent"]["tlsFiles"] = {"ca": "x"}
    with pytest.raises(HelmError) as e:
        render(helm, values, tmp_path, "kube-system")
    err = e.value.stderr
    assert "keepaliveParams" in err and "tlsFiles" in err, err


def test_irsa_webhook_after_renders_and_is_accepted(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-irsa-webhook.md")["after"], tmp_path, namespace)
    accepted(api, docs, namespace)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "webhook"
    for want in ("--annotation-prefix=eks.amazonaws.com", "--token-audience=sts.amazonaws.com"):
        assert want in args, args
    hook = next(d for d in docs if d["kind"] == "MutatingWebhookConfiguration")
    assert hook["webhooks"][0]["failurePolicy"] == "Fail"
    assert {d["kind"] for d in docs} >= {"Certificate", "Issuer", "PodDisruptionBudget"}


def test_irsa_webhook_before_flags_are_accepted_by_podiam(tmp_path):
    command = blocks("migrate-irsa-webhook.md")["before"]["command"]
    assert command[0] == "/webhook"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    r = subprocess.run([str(podiam_binary()), "webhook", *command[1:], "--kubeconfig", "/nonexistent",
                        "--port", str(free_port()), "--metrics-port", str(free_port())],
                       capture_output=True, text=True, env=env, timeout=30)
    # Not a usage error (2): every flag parsed; it stops at the kubeconfig.
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot start the webhook" in r.stderr and "kubeconfig" in r.stderr, r.stderr
    assert "flag --namespace is ignored" in r.stderr, r.stderr


def test_zalando_after_renders_and_is_accepted(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-zalando.md")["after"], tmp_path, namespace)
    accepted(api, docs, namespace)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "controller"
    for want in ("--zalando-awsiamroles", "--leader-elect", "--cluster-name=prod",
                 "--base-role-arn=arn:aws:iam::123456789012:role/", "--region=eu-west-1",
                 "--credential-process-command=cat /meta/aws-iam/credentials.json"):
        assert want in args, args
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/podiam-controller")
    assert "awsiamroles.zalando.org" in {d["metadata"]["name"] for d in docs
                                         if d["kind"] == "CustomResourceDefinition"}


def test_zalando_before_object_is_accepted_by_the_charts_crd(helm, api, namespace, tmp_path):
    docs = render(helm, blocks("migrate-zalando.md")["after"], tmp_path, namespace)
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            api.ensure(doc)
    before = blocks("migrate-zalando.md")["before"]
    assert before["apiVersion"] == "zalando.org/v1"
    stored = api.dry_run(before, namespace)
    assert stored["spec"] == before["spec"]
