"""The Helm chart deploy/helm/podiam, checked by the pinned helm (built from its Go module) and
the real kube-apiserver: `helm lint --strict` and `helm template` for the default values and
every value set under tests/helm/values/, each rendered object accepted by a server-side dry-run
with strict field validation (CRDs applied first), values.schema.json refusing bad values with a
clear message, the kube2iam and kiam chart values mapped to the same agent flags, those flags
accepted by `podiam agent`, and the raw manifests under deploy/ equal to the chart's rendering.

One control plane (the session's) and one namespace per module.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from podiam_testenv import paths
from podiam_testenv.agent import podiam_binary
from podiam_testenv.cluster import ApiError
from podiam_testenv.helm import CHART, Helm, HelmError, load_all
from podiam_testenv.webhook import WebhookCerts

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
VALUES = sorted((HERE / "values").glob("*.yaml"))
SETS = [None, *VALUES]
DEPLOY = paths.REPO / "deploy"


def set_id(v: Path | None) -> str:
    return "defaults" if v is None else v.stem


def render(helm: Helm, values: Path | None, namespace: str = "podiam", sets=(), release="podiam"):
    return helm.template(release, namespace, values=[values] if values else [], sets=sets)


def find(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return found[0]


def agent_args(docs) -> list[str]:
    return find(docs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]


SERVER_MOUNT = "/var/run/secrets/podiam/server"  # the agent's server-mode volume


def server_volume(ds) -> dict:
    pod = ds["spec"]["template"]["spec"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == [SERVER_MOUNT], mounts
    return [v for v in pod["volumes"] if v["name"] == mounts[0]["name"]][0]


# ---- helm lint and template, every object accepted by the apiserver ---------------------------

@pytest.mark.parametrize("values", SETS, ids=set_id)
def test_lint_strict(helm, values):
    r = helm.lint(values=[values] if values else [])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 chart(s) failed" in r.stdout, r.stdout


@pytest.mark.parametrize("values", SETS, ids=set_id)
def test_rendered_objects_are_accepted_by_the_apiserver(helm, api, namespace, values):
    docs = render(helm, values, namespace)
    assert docs
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert sorted(c["metadata"]["name"] for c in crds) == CRDS
    for crd in crds:  # CRDs first, for real: nothing else can be checked against them before
        api.ensure(crd)
    refused = []
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            continue
        try:
            api.dry_run(doc, namespace)
        except ApiError as e:
            refused.append(f"{doc['kind']} {doc['metadata']['name']}: {e}")
    assert not refused, "\n".join(refused)


CRDS = ["awsiamroles.podiam.io", "awsiamroles.zalando.org", "podidentityassociations.podiam.io"]

EXPECTED_KINDS = {
    "defaults": {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"},
    "agent": {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"},
    "webhook": {"Deployment", "Service", "PodDisruptionBudget", "MutatingWebhookConfiguration",
                "ServiceAccount", "ClusterRole", "ClusterRoleBinding"},
    "oidc": {"Deployment", "Service", "PodDisruptionBudget", "ServiceAccount"},
    "controller": {"Deployment", "PodDisruptionBudget", "ServiceAccount", "ClusterRole",
                   "ClusterRoleBinding", "Role", "RoleBinding"},
    "all": {"DaemonSet", "Deployment", "Service", "PodDisruptionBudget",
            "MutatingWebhookConfiguration", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
            "Role", "RoleBinding", "ServiceMonitor", "PrometheusRule", "Issuer", "Certificate"},
    "kube2iam": {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"},
    "kiam": {"DaemonSet", "Deployment", "Service", "PodDisruptionBudget", "ServiceAccount",
             "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"},
    "server": {"Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ClusterRole",
               "ClusterRoleBinding", "Role", "RoleBinding"},
    "server-agent": {"DaemonSet", "Deployment", "Service", "PodDisruptionBudget", "ServiceAccount",
                     "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Certificate",
                     "ServiceMonitor", "PrometheusRule"},
}


@pytest.mark.parametrize("values", SETS, ids=set_id)
def test_each_value_set_renders_its_components(helm, values):
    kinds = {d["kind"] for d in render(helm, values)} - {"CustomResourceDefinition"}
    assert kinds == EXPECTED_KINDS[set_id(values)]


# ---- secure defaults ---------------------------------------------------------------------------

def test_agent_defaults_are_least_privilege(helm):
    docs = render(helm, None)
    pod = find(docs, "DaemonSet")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["hostNetwork"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert {e["name"] for e in c["env"]} == {"NODE_NAME", "HOST_IP", "PODIAM_HOST_IP"}
    assert c["args"] == ["agent", "--iptables", "--host-interface=cni0", "--listen=$(HOST_IP):8181",
                         "--metrics-listen=0.0.0.0:9620"]


def test_webhook_defaults_are_highly_available_and_fail_closed(helm):
    docs = render(helm, HERE / "values" / "webhook.yaml", namespace="irsa")
    dep = find(docs, "Deployment")
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = pod["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert find(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    hook = find(docs, "MutatingWebhookConfiguration")["webhooks"][0]
    assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
    assert hook["clientConfig"]["service"]["namespace"] == "irsa"
    assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "irsa"]


def test_controller_defaults_are_highly_available_non_root_and_leader_elected(helm):
    docs = render(helm, HERE / "values" / "controller.yaml", namespace="iam")
    dep = find(docs, "Deployment", "podiam-controller")
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["args"] == ["controller", "--metrics-listen=0.0.0.0:9623",
                         "--base-role-arn=arn:aws:iam::123456789012:role/", "--cluster-name=prod",
                         "--leader-elect", "--refresh-before=15m", "--region=eu-west-1",
                         "--zalando-awsiamroles"]
    assert find(docs, "PodDisruptionBudget", "podiam-controller")["spec"]["minAvailable"] == 1
    assert find(docs, "Role")["metadata"]["namespace"] == "iam"  # the Lease where POD_NAMESPACE is


def test_controller_is_scraped_and_alerted_on_with_the_operator_objects(helm):
    docs = render(helm, HERE / "values" / "all.yaml")
    dep = find(docs, "Deployment", "podiam-controller")
    svc = find(docs, "Service", "podiam-controller-metrics")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    port = dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    assert port["name"] == "metrics" and svc["spec"]["ports"][0]["port"] == port["containerPort"]
    sm = find(docs, "ServiceMonitor", "podiam-controller")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    groups = {g["name"]: g for g in find(docs, "PrometheusRule")["spec"]["groups"]}
    alerts = {r["alert"]: r for r in groups["podiam-controller"]["rules"]}
    assert set(alerts) == {"PodiamControllerRefreshFailing", "PodiamControllerSecretConflicts",
                           "PodiamControllerDown"}
    assert 'service="podiam-controller-metrics"' in alerts["PodiamControllerDown"]["expr"]
    # Every series an alert uses is one the controller exports (docs/metrics.md).
    metrics_doc = (HERE.parents[1] / "docs" / "metrics.md").read_text()
    assert "`podiam_controller_reconciles_total`" in metrics_doc
    for result in ("refresh_failing", "sts_error", "secret_conflict", "denied", "invalid"):
        assert result in metrics_doc


def test_rendered_controller_args_are_accepted_by_podiam(helm, tmp_path):
    args = find(render(helm, HERE / "values" / "controller.yaml"), "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    args = [a.replace("0.0.0.0:9623", "127.0.0.1:0") for a in args]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "POD_NAME": "c-0", "POD_NAMESPACE": "kube-system"}
    r = subprocess.run([str(podiam_binary()), *args, "--kubeconfig", "/nonexistent",
                        "--sts-endpoint", "http://127.0.0.1:9"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1, (args, r.returncode, r.stderr[-2000:])  # every flag parsed
    assert "cannot start the controller" in r.stderr, r.stderr[-2000:]


def test_rbac_is_the_same_as_the_raw_manifests(helm):
    docs = render(helm, HERE / "values" / "all.yaml")
    raw_agent = find(load_all(DEPLOY / "agent" / "rbac.yaml"), "ClusterRole")
    raw_webhook = find(load_all(DEPLOY / "webhook" / "webhook.yaml"), "ClusterRole")
    assert find(docs, "ClusterRole", "podiam-agent")["rules"] == raw_agent["rules"]
    assert find(docs, "ClusterRole", "podiam-webhook")["rules"] == raw_webhook["rules"]
    raw_controller = load_all(DEPLOY / "controller" / "rbac.yaml")
    assert find(docs, "ClusterRole", "podiam-controller")["rules"] == find(raw_controller, "ClusterRole")["rules"]
    assert find(docs, "Role", "podiam-controller-leader-election")["rules"] == find(raw_controller, "Role")["rules"]
    oidc_sa = find(docs, "ServiceAccount", "podiam-oidc")
    assert oidc_sa["automountServiceAccountToken"] is False  # no API access at all


# ---- podiam server and the agents in server mode ----------------------------------------------

SERVER_SETS = [v for v in VALUES if v.stem in ("server", "server-agent", "kiam", "all")]


def server_deployment(docs) -> dict:
    return find(docs, "Deployment", "podiam-server")


def test_server_defaults_are_highly_available_and_non_root(helm):
    docs = render(helm, HERE / "values" / "server.yaml", namespace="iam")
    dep = server_deployment(docs)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    pod = dep["spec"]["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "hostNetwork" not in pod
    c = pod["containers"][0]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert find(docs, "PodDisruptionBudget", "podiam-server")["spec"]["minAvailable"] == 1
    # IRSA for the server's own identity; sharding's downward-API variables.
    sa = find(docs, "ServiceAccount", "podiam-server")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/podiam-server")
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
                   "POD_IP": "status.podIP"}
    assert c["args"][:6] == ["server", "--listen=0.0.0.0:8443", "--metrics-listen=0.0.0.0:9621",
                             "--cert=/etc/podiam-server/tls/cert.pem",
                             "--key=/etc/podiam-server/tls/key.pem",
                             "--agent-service-account=iam:podiam-agent"]
    assert not any(a.startswith("--ca") for a in c["args"])  # no kiam mTLS unless asked for
    assert not [d for d in docs if d["kind"] == "DaemonSet"]


@pytest.mark.parametrize("values", SERVER_SETS, ids=set_id)
def test_server_service_selects_the_deployment_on_its_https_port(helm, values):
    docs = render(helm, values)
    dep = server_deployment(docs)
    svc = find(docs, "Service", "podiam-server")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    port = svc["spec"]["ports"][0]
    assert port["name"] == "https" and port["targetPort"] == "https"
    assert port["port"] == (443 if values.stem == "kiam" else 8443)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    https = [p for p in c["ports"] if p["name"] == "https"][0]
    assert f"--listen=0.0.0.0:{https['containerPort']}" in c["args"]


def test_server_rbac_is_deploy_server_plus_leases(helm):
    docs = render(helm, HERE / "values" / "server.yaml")
    raw = load_all(DEPLOY / "server" / "rbac.yaml")
    assert find(docs, "ClusterRole", "podiam-server")["rules"] == find(raw, "ClusterRole")["rules"]
    leases = find(docs, "Role", "podiam-server-leases")
    assert leases["metadata"]["namespace"] == "podiam"  # the release's namespace only
    assert leases["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                "verbs": ["get", "list", "watch", "create", "update", "delete"]}]
    raw_verbs = set(find(raw, "Role")["rules"][0]["verbs"])
    assert raw_verbs <= set(leases["rules"][0]["verbs"])
    binding = find(docs, "RoleBinding", "podiam-server-leases")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "podiam-server", "namespace": "podiam"}]
    off = render(helm, HERE / "values" / "server.yaml", sets=["server.sharding.enabled=false"])
    assert not [d for d in off if d["kind"] == "Role"]
    assert "env" not in server_deployment(off)["spec"]["template"]["spec"]["containers"][0]


def test_server_sharding_gives_peers_a_token_the_service_name_and_the_ca(helm):
    docs = render(helm, HERE / "values" / "server-agent.yaml", namespace="iam")
    spec = server_deployment(docs)["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert "--peer-tls-server-name=podiam-server.iam.svc" in c["args"]
    assert "--peer-token-file=/var/run/secrets/podiam/peer/token" in c["args"]
    assert "--peer-service-account=iam:podiam-server" in c["args"]
    assert "--peer-ca=/etc/podiam-server/ca/ca.crt" in c["args"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    token = volumes["peer-token"]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "podiam-server" and token["path"] == "token"
    assert volumes["peer-ca"]["configMap"]["name"] == "cluster-ca"  # server.tls.caConfigMap
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["peer-token"] == "/var/run/secrets/podiam/peer"
    assert mounts["peer-ca"] == "/etc/podiam-server/ca"
    off = render(helm, HERE / "values" / "server-agent.yaml", namespace="iam",
                 sets=["server.sharding.enabled=false"])
    c = server_deployment(off)["spec"]["template"]["spec"]["containers"][0]
    assert "--sharding=off" in c["args"]
    assert not [a for a in c["args"] if a.startswith("--peer-")]
    assert "peer-token" not in {v["name"] for v in server_deployment(off)["spec"]["template"]["spec"]["volumes"]}


def test_agent_in_server_mode_has_no_aws_identity_and_a_bound_token(helm):
    docs = render(helm, HERE / "values" / "server-agent.yaml", namespace="iam")
    ds = find(docs, "DaemonSet")
    c = ds["spec"]["template"]["spec"]["containers"][0]
    args = c["args"]
    for want in ("--server=https://podiam-server.iam.svc:8443",
                 f"--server-ca={SERVER_MOUNT}/ca.crt", f"--server-token-file={SERVER_MOUNT}/token",
                 "--base-role-arn=arn:aws:iam::123456789012:role/"):
        assert want in args, args
    # Nothing that gives the agent AWS permissions or STS settings.
    assert not [a for a in args if a.startswith(("--assume-role", "--region", "--session-duration",
                                                 "--sts-endpoint"))], args
    assert not [e for e in c["env"] if e["name"].startswith("AWS_")], c["env"]
    assert not [v for v in ds["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert "annotations" not in find(docs, "ServiceAccount", "podiam-agent")["metadata"]
    volume = server_volume(ds)
    token = [s["serviceAccountToken"] for s in volume["projected"]["sources"] if "serviceAccountToken" in s]
    assert token == [{"audience": "podiam-server", "expirationSeconds": 3600, "path": "token"}]
    ca = [s["configMap"] for s in volume["projected"]["sources"] if "configMap" in s]
    assert ca == [{"name": "cluster-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}]
    # The server has the STS settings and allows this release's agent.
    sargs = server_deployment(docs)["spec"]["template"]["spec"]["containers"][0]["args"]
    for want in ("--assume-role=arn:aws:iam::123456789012:role/podiam-server", "--session-duration=1h",
                 "--base-role-arn=arn:aws:iam::123456789012:role/",
                 "--agent-service-account=iam:podiam-agent"):
        assert want in sargs, sargs
    cert = find(docs, "Certificate", "podiam-server")
    assert cert["spec"]["dnsNames"][0] == "podiam-server.iam.svc"
    assert cert["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "cluster-ca"}
    tls = [v for v in server_deployment(docs)["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"][0]
    assert tls["secret"]["secretName"] == cert["spec"]["secretName"]


def test_agent_server_mode_follows_server_enabled_and_can_be_set_alone(helm):
    off = render(helm, HERE / "values" / "server-agent.yaml", sets=["agent.server.enabled=false"])
    assert not any(a.startswith("--server") for a in agent_args(off))
    assert "volumes" not in find(off, "DaemonSet")["spec"]["template"]["spec"]
    external = render(helm, None, sets=["agent.server.enabled=true",
                                        "agent.server.urls[0]=https://iam.example.internal:8443",
                                        "server.tls.caConfigMap=corp-ca"])
    args = agent_args(external)
    assert "--server=https://iam.example.internal:8443" in args
    assert not [d for d in external if d["kind"] == "Deployment"]


def test_agent_ca_from_a_pem_in_the_values_is_a_configmap_of_the_ca_only(helm, certs):
    docs = render(helm, HERE / "values" / "server.yaml",
                  sets=["agent.enabled=true", "server.tls.caBundle=" + certs.ca_pem.decode().replace(",", "\\,")])
    cm = find(docs, "ConfigMap", "podiam-server-ca")
    assert cm["data"]["ca.crt"].strip() == certs.ca_pem.decode().strip()
    ca = [s["configMap"] for s in server_volume(find(docs, "DaemonSet"))["projected"]["sources"] if "configMap" in s]
    assert ca[0]["name"] == "podiam-server-ca"


def test_agent_server_discovery_adds_the_flag_and_an_endpointslice_role(helm):
    docs = render(helm, HERE / "values" / "server-agent.yaml", namespace="iam")
    assert "--server-service=iam/podiam-server:https" in agent_args(docs)
    role = find(docs, "Role", "podiam-agent-server-discovery")
    assert role["metadata"]["namespace"] == "iam"
    assert role["rules"] == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                              "verbs": ["get", "list", "watch"]}]
    assert find(docs, "RoleBinding", "podiam-agent-server-discovery")["subjects"][0]["name"] == "podiam-agent"


@pytest.mark.parametrize("sets,want", [
    (["agent.assumeRole=arn:aws:iam::123456789012:role/x"], "agent.assumeRole is set"),
    (["agent.region=eu-west-1"], "agent.region"),
    (["existingSecret=aws-keys"], "existingSecret is set"),
    (["agent.extraEnv[0].name=AWS_ACCESS_KEY_ID", "agent.extraEnv[0].value=AKIA"], "AWS_ACCESS_KEY_ID"),
])
def test_agent_aws_settings_are_refused_in_server_mode(helm, sets, want):
    err = template_error(helm, "server.enabled=true", "server.tls.existingSecret=s",
                         "server.tls.caConfigMap=ca", *sets)
    assert want in err and "server mode" in err, err


def test_server_without_a_certificate_or_agents_without_a_ca_are_refused(helm):
    err = template_error(helm, "server.enabled=true")
    assert "server.tls.existingSecret" in err and "server.tls.certManager.enabled" in err, err
    err = template_error(helm, "server.enabled=true", "server.tls.existingSecret=s")
    assert "server.tls.caBundle" in err and "private key" in err, err
    err = template_error(helm, "server.enabled=true", "server.tls.certManager.enabled=true",
                         "server.tls.caConfigMap=ca")
    assert "issuerRef" in err, err
    err = template_error(helm, "agent.server.enabled=true", "server.tls.caConfigMap=ca")
    assert "agent.server.urls" in err, err
    err = template_error(helm, "agent.tlsSecret=kiam-agent-tls")
    assert "only used in server mode" in err, err
    err = template_error(helm, "server.enabled=true", "server.tlsSecret=kiam-server-tls",
                         "server.tls.caConfigMap=ca")
    assert "agent.tlsSecret" in err and "client certificates" in err, err


def test_kiam_chart_default_server_session_duration_is_refused_for_the_server(helm):
    err = template_error(helm, "server.enabled=true", "server.tls.existingSecret=s",
                         "server.tls.caConfigMap=ca", "server.sessionDuration=15m")
    assert "15m is too short" in err, err


@pytest.mark.parametrize("values", SERVER_SETS, ids=set_id)
def test_rendered_server_args_are_accepted_by_podiam(helm, values, tmp_path, certs):
    # Every flag parsed (not a usage error, exit 2): the server stops at the kubeconfig.
    tls = mounted(tmp_path, "/etc/podiam-server/tls", {"cert.pem": certs.cert_file,
                                                      "key.pem": certs.key_file, "ca.pem": certs.ca_file})
    c = server_deployment(render(helm, values))["spec"]["template"]["spec"]["containers"][0]
    args = [a.replace("/etc/podiam-server/tls", str(tls)).replace("0.0.0.0:", "127.0.0.1:")
            for a in c["args"]]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "POD_NAME": "s-0", "POD_NAMESPACE": "kube-system",
           "POD_IP": "127.0.0.1"}
    r = subprocess.run([str(podiam_binary()), *args, "--kubeconfig", "/nonexistent",
                        "--sts-endpoint", "http://127.0.0.1:9"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1, (args, r.returncode, r.stderr[-2000:])
    assert "cannot start the server" in r.stderr, r.stderr[-2000:]


def test_server_is_scraped_and_alerted_on_with_the_operator_objects(helm):
    docs = render(helm, HERE / "values" / "server-agent.yaml")
    dep = server_deployment(docs)
    svc = find(docs, "Service", "podiam-server-metrics")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    metrics = [p for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"] if p["name"] == "metrics"][0]
    assert svc["spec"]["ports"][0]["port"] == metrics["containerPort"]
    sm = find(docs, "ServiceMonitor", "podiam-server")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    groups = {g["name"]: g for g in find(docs, "PrometheusRule")["spec"]["groups"]}
    alerts = {r["alert"]: r for r in groups["podiam-server"]["rules"]}
    assert set(alerts) == {"PodiamServerPodNotOnNode", "PodiamServerUpstreamErrors", "PodiamServerDown"}
    assert 'service="podiam-server-metrics"' in alerts["PodiamServerDown"]["expr"]
    assert 'deployment="podiam-server"' in alerts["PodiamServerDown"]["expr"]
    # Every series and reason the alerts use is one docs/server.md documents.
    server_doc = (HERE.parents[1] / "docs" / "server.md").read_text()
    assert "`podiam_server_refusals_total{reason}`" in server_doc
    for reason in ("pod_not_on_node", "credentials_unavailable", "credentials_denied"):
        assert f"`{reason}`" in server_doc, reason
        assert reason in alerts["PodiamServerPodNotOnNode"]["expr"] + alerts["PodiamServerUpstreamErrors"]["expr"]


# ---- values.schema.json -------------------------------------------------------------------------

def template_error(helm, *sets) -> str:
    with pytest.raises(HelmError) as e:
        render(helm, None, sets=sets)
    return e.value.stderr


def test_schema_rejects_a_wrong_type(helm):
    err = template_error(helm, "agent.host.port=http")
    assert "values don't meet the specifications of the schema" in err, err
    assert "/agent/host/port" in err and "integer" in err, err


def test_schema_rejects_an_unknown_key(helm):
    err = template_error(helm, "agent.hostInterface=cali+")
    assert "values don't meet the specifications of the schema" in err, err
    assert "hostInterface" in err and "additional properties" in err.lower(), err


def test_schema_rejects_an_unknown_kube2iam_style_key(helm):
    # kube2iam's aws.access_key would put node credentials in the values: not accepted.
    err = template_error(helm, "aws.access_key=AKIA")
    assert "access_key" in err, err


def test_webhook_without_a_trusted_certificate_is_refused(helm):
    err = template_error(helm, "webhook.enabled=true")
    assert "webhook.tls.certManager.enabled" in err and "caBundle" in err, err


def test_oidc_without_issuer_is_refused(helm):
    err = template_error(helm, "oidc.enabled=true")
    assert "oidc.issuer" in err, err


def test_kiam_chart_default_session_duration_is_refused_with_the_reason(helm):
    err = template_error(helm, "server.sessionDuration=15m")
    assert "15m is too short" in err and "50m" in err, err


# ---- kube2iam and kiam chart values -------------------------------------------------------------

def test_kube2iam_values_become_the_same_agent_flags(helm):
    docs = render(helm, HERE / "values" / "kube2iam.yaml")
    args = agent_args(docs)
    for want in ("--iptables", "--host-interface=cali+", "--listen=$(HOST_IP):8181",
                 "--metrics-listen=0.0.0.0:9543", "--base-role-arn=arn:aws:iam::123456789012:role/",
                 "--default-role=kube2iam-default", "--namespace-restrictions",
                 "--iam-role-session-ttl=30m", "--region=eu-west-1", "--log-level=debug"):
        assert want in args, args
    ds = find(docs, "DaemonSet")
    pod = ds["spec"]["template"]
    assert pod["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    c = pod["spec"]["containers"][0]
    assert {"name": "HTTPS_PROXY", "value": ""} in c["env"]
    assert c["ports"][1]["containerPort"] == 9543
    assert c["livenessProbe"]["initialDelaySeconds"] == 30
    assert c["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    # kube2iam's chart runs the container privileged when iptables is on; podiam never does.
    assert c["securityContext"]["privileged"] is False


def test_kiam_values_become_the_same_agent_and_server_flags(helm):
    docs = render(helm, HERE / "values" / "kiam.yaml", namespace="kube-system")
    args = agent_args(docs)
    for want in ("--iptables", "--host-interface=!eth0", "--metrics-listen=0.0.0.0:9620",
                 "--base-role-arn=arn:aws:iam::123456789012:role/",
                 "--log-level=warn", "--log-format=json",
                 "--allow-route-regexp=^/latest/meta-data/placement/", "--no-iptables-remove",
                 # kiam's server.service.port and agent.tlsSecret (client certificate and CA)
                 "--server=https://podiam-server.kube-system.svc:443",
                 "--server-cert=/var/run/secrets/podiam/server/tls.crt",
                 "--server-key=/var/run/secrets/podiam/server/tls.key"):
        assert want in args, args
    # The STS settings are the server's now: the agent has none.
    assert not [a for a in args if a.startswith(("--assume-role", "--session-duration", "--region"))]
    ds = find(docs, "DaemonSet")
    assert ds["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "kiam-agent"
    assert find(docs, "ServiceAccount", "kiam-agent")
    assert find(docs, "ClusterRoleBinding", "podiam-agent")["subjects"][0]["name"] == "kiam-agent"
    token_volume = server_volume(ds)
    secret = [s["secret"] for s in token_volume["projected"]["sources"] if "secret" in s][0]
    assert secret["name"] == "kiam-agent-tls"
    assert {i["key"]: i["path"] for i in secret["items"]} == {"ca": "ca.crt", "cert": "tls.crt",
                                                               "key": "tls.key"}
    dep = find(docs, "Deployment", "podiam-server")
    assert dep["spec"]["replicas"] == 3  # server.deployment.replicas
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kiam-server"
    sargs = pod["containers"][0]["args"]
    for want in ("--assume-role=arn:aws:iam::123456789012:role/kiam-server", "--session-duration=1h",
                 "--base-role-arn=arn:aws:iam::123456789012:role/", "--log-format=json",
                 "--metrics-listen=0.0.0.0:9620", "--ca=/etc/podiam-server/tls/ca.pem",
                 "--agent-service-account=kube-system:kiam-agent"):
        assert want in sargs, sargs
    tls = [v for v in pod["volumes"] if v["name"] == "tls"][0]["secret"]
    assert tls["secretName"] == "kiam-server-tls"
    assert [i["key"] for i in tls["items"]] == ["cert", "key", "ca"]
    assert find(docs, "Service", "podiam-server")["spec"]["ports"][0]["port"] == 443
    assert pod["containers"][0]["livenessProbe"]["initialDelaySeconds"] == 10


def test_kiam_server_sts_values_go_to_the_agent_without_a_server(helm, tmp_path):
    # kiam's server.{roleBaseArn, assumeRoleArn, sessionDuration} with server.enabled off: the
    # agent calls STS itself with them (no server in this release).
    f = tmp_path / "v.yaml"
    f.write_text(yaml.safe_dump({"server": {
        "roleBaseArn": "arn:aws:iam::123456789012:role/",
        "assumeRoleArn": "arn:aws:iam::123456789012:role/kiam-server", "sessionDuration": "1h"}}))
    docs = render(helm, f)
    args = agent_args(docs)
    for want in ("--base-role-arn=arn:aws:iam::123456789012:role/",
                 "--assume-role=arn:aws:iam::123456789012:role/kiam-server", "--session-duration=1h"):
        assert want in args, args
    assert not any(a.startswith("--server") for a in args)
    assert {d["kind"] for d in docs} == {"DaemonSet", "ServiceAccount", "ClusterRole",
                                        "ClusterRoleBinding", "CustomResourceDefinition"}


def test_a_kube2iam_value_wins_over_the_podiam_default(helm):
    args = agent_args(render(helm, None, sets=["host.iptables=false"]))
    assert "--iptables" not in args and not any(a.startswith("--host-interface") for a in args)


def mounted(tmp_path: Path, mount: str, files: dict[str, Path]) -> Path:
    """A directory standing in for a volume mounted at `mount`: the test certificates under the
    names the rendered args use."""
    d = tmp_path / mount.strip("/").replace("/", "_")
    d.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        (d / name).write_bytes(src.read_bytes())
    return d


@pytest.fixture
def certs(tmp_path):
    return WebhookCerts(tmp_path / "certs")


@pytest.mark.parametrize("values", [None, *[v for v in VALUES if v.stem in ("agent", "all", "kube2iam", "kiam",
                                                                               "server-agent")]],
                         ids=set_id)
def test_rendered_agent_args_are_accepted_by_podiam(helm, values, tmp_path, certs):
    # The args exactly as the DaemonSet gives them (the kubelet expands $(HOST_IP), the server
    # mode's volume holds the token, the CA and kiam's client certificate); not a usage error
    # (exit 2): `podiam agent` stops at the kubeconfig, after every flag was accepted.
    volume = mounted(tmp_path, SERVER_MOUNT, {"ca.crt": certs.ca_file, "tls.crt": certs.cert_file,
                                              "tls.key": certs.key_file, "token": certs.ca_file})
    args = [a.replace("$(HOST_IP)", "192.0.2.10").replace(SERVER_MOUNT, str(volume))
            for a in agent_args(render(helm, values))]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "PODIAM_HOST_IP": "192.0.2.10",
           "NODE_NAME": "n1", "PODIAM_NODE_IMDS_ENDPOINT": "http://127.0.0.1:9"}
    r = subprocess.run([str(podiam_binary()), *args, "--kubeconfig", "/nonexistent"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1, (args, r.returncode, r.stderr[-2000:])
    assert "kube" in r.stderr, r.stderr[-2000:]


# ---- the raw manifests under deploy/ match the chart -------------------------------------------

STORED_ONLY = ("uid", "creationTimestamp", "generation", "managedFields", "resourceVersion")


def normalized(obj: dict) -> dict:
    """An object as the apiserver would store it, without what differs by construction: the
    chart's Helm labels (and so label selectors), server-set metadata and status."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj["metadata"]
    for key in (*STORED_ONLY, "labels"):
        meta.pop(key, None)

    def strip(node):
        if isinstance(node, dict):
            node.pop("matchLabels", None)
            if "template" in node and isinstance(node["template"], dict):
                node["template"].get("metadata", {}).pop("labels", None)
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)
    strip(obj)
    if obj["kind"] == "Service":
        obj["spec"].pop("selector", None)
        for key in ("clusterIP", "clusterIPs"):
            obj["spec"].pop(key, None)
    return obj


def ensure_namespace(cluster, name: str, timeout: float = 60) -> bool:
    """Makes the namespace exist and be Active (another test may just have deleted it: it is
    Terminating for a moment); True if this call created it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}})
            return True
        except ApiError as e:
            if e.status != 409:
                raise
        got = cluster.rest.get(f"/api/v1/namespaces/{name}", ok=(404,)) or {}
        phase = got["status"].get("phase") if got.get("kind") == "Namespace" else "gone"
        if phase == "Active":
            return False
        assert time.monotonic() < deadline, f"namespace {name} stays {phase}"
        time.sleep(0.2)


def dry_run_all(api, docs, namespace=None):
    out = {}
    for doc in docs:
        key = (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] in ("Issuer", "Certificate"):  # stub CRDs: compared as written
            out[key] = normalized(doc)
        else:
            out[key] = normalized(api.dry_run(doc, namespace))
    return out


def test_deploy_crds_are_the_charts():
    chart_crds = sorted((CHART / "crds").glob("*.yaml"))
    assert [c.name for c in chart_crds] == [f"{name}.yaml" for name in CRDS]
    for crd in chart_crds:  # byte for byte
        assert (DEPLOY / "crds" / crd.name).read_text() == crd.read_text(), crd.name


@pytest.mark.parametrize("component,namespace,sets,files", [
    ("agent", "kube-system", [], ["agent/serviceaccount.yaml", "agent/rbac.yaml", "agent/daemonset.yaml"]),
    ("webhook", "podiam-webhook",
     ["agent.enabled=false", "webhook.enabled=true", "webhook.tls.certManager.enabled=true"],
     ["webhook/webhook.yaml", "webhook/certificate.yaml"]),
    ("controller", "kube-system",
     ["agent.enabled=false", "controller.enabled=true",
      "controller.baseRoleArn=arn:aws:iam::123456789012:role/", "controller.clusterName=my-cluster",
      "controller.extraEnv[0].name=AWS_REGION", "controller.extraEnv[0].value=us-east-1"],
     ["controller/rbac.yaml", "controller/deployment.yaml"]),
])
def test_deploy_manifests_match_the_chart(helm, api, cluster, component, namespace, sets, files):
    raw = [d for f in files for d in load_all(DEPLOY / f)]
    created = False
    if any(d["kind"] == "Namespace" for d in raw):
        created = ensure_namespace(cluster, namespace)
    try:
        raw = [d for d in raw if d["kind"] != "Namespace"]  # a chart installs into its namespace
        chart = [d for d in render(helm, None, namespace=namespace, sets=sets)
                 if d["kind"] != "CustomResourceDefinition"]
        want = dry_run_all(api, chart, namespace)
        got = dry_run_all(api, raw, namespace)
        assert sorted(got) == sorted(want)
        for key in want:
            assert got[key] == want[key], key
    finally:
        if created:
            cluster.rest.delete(f"/api/v1/namespaces/{namespace}", ok=(404,))


def test_schema_describes_every_value_and_refuses_unknown_keys():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(value, node, path):
        assert node.get("additionalProperties") is False or "additionalProperties" in node, path
        for key, sub in value.items():
            props = node.get("properties", {})
            assert key in props, f"{path}.{key} is not in values.schema.json"
            if isinstance(sub, dict) and props[key].get("properties"):
                walk(sub, props[key], f"{path}.{key}")
    walk(values, schema, "")
    assert schema["additionalProperties"] is False
