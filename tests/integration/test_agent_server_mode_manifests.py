"""deploy/agent/server-mode/ (docs/agent.md "Server mode", docs/server.md "Deploying"): the
DaemonSet's arguments are flags `podiam agent` has and accepts, its token volume is what the
server reviews (audience podiam-server) where the agent reads it, the CA file it names is in the
volume, it carries no AWS settings, and the EndpointSlice Role grants exactly what
--server-service needs in the Service's namespace."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODE = ROOT / "deploy" / "agent" / "server-mode"


def run(*args, env=None):
    full_env = {"PATH": os.environ["PATH"], "NODE_NAME": "", "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    return subprocess.run([str(podiam_binary()), *args], capture_output=True, text=True,
                          timeout=30, env=full_env)


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((MODE / name).read_text()) if d]


def daemonset() -> dict:
    (ds,) = [d for d in docs("daemonset.yaml") if d["kind"] == "DaemonSet"]
    return ds


def container() -> dict:
    return daemonset()["spec"]["template"]["spec"]["containers"][0]


def flag_value(args: list[str], flag: str) -> str | None:
    for a in args:
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def test_every_argument_is_a_flag_of_podiam_agent():
    help_text = run("agent", "--help").stdout
    args = container()["args"]
    assert args[0] == "agent"
    for a in args[1:]:
        flag = a.split("=", 1)[0]
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", help_text, re.M), flag


def test_the_arguments_are_accepted():
    args = [a.replace("$(HOST_IP)", "192.0.2.10") for a in container()["args"]]
    r = run(*args, "--node", "n1", "--kubeconfig", "/nonexistent",
            env={"PODIAM_HOST_IP": "192.0.2.10"})
    # Not a usage error (2): it fails later, at the DNAT rule or the kubeconfig.
    assert r.returncode == 1, r
    assert "cannot start the agent" in r.stderr


def test_server_mode_reads_the_service_the_token_and_the_ca_from_the_volume():
    args = container()["args"]
    assert flag_value(args, "--server-service") == "kube-system/podiam-server"
    token = flag_value(args, "--server-token-file")
    ca = flag_value(args, "--server-ca")
    (mount,) = container()["volumeMounts"]
    assert mount["readOnly"] is True
    (volume,) = [v for v in daemonset()["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == mount["name"]]
    sources = volume["projected"]["sources"]
    (sat,) = [s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s]
    assert sat["audience"] == "podiam-server"  # what podiam server reviews tokens for
    assert token == f"{mount['mountPath']}/{sat['path']}"
    (cm,) = [s["configMap"] for s in sources if "configMap" in s]
    assert cm["name"] == "podiam-server-ca"
    assert ca in {f"{mount['mountPath']}/{i['path']}" for i in cm["items"]}


def test_no_aws_credentials_or_settings_on_the_node():
    c = container()
    names = {e["name"] for e in c.get("env", [])}
    assert not {n for n in names if n.startswith("AWS_")}, names
    args = " ".join(c["args"])
    for flag in ("--region", "--sts-endpoint", "--assume-role", "--auto-discover-base-arn"):
        assert flag not in args
    assert "envFrom" not in c
    # The Service this names is deploy/server's, whose port is named https (the default).
    svc = [d for d in yaml.safe_load_all((ROOT / "deploy/server/deployment.yaml").read_text())
           if d and d.get("kind") == "Service"]
    assert svc[0]["metadata"]["name"] == "podiam-server"
    assert svc[0]["metadata"]["namespace"] == "kube-system"
    assert [p["name"] for p in svc[0]["spec"]["ports"]] == ["https"]


def test_the_endpointslice_role_is_read_only_in_the_services_namespace():
    objects = {d["kind"]: d for d in docs("rbac-endpointslices.yaml")}
    role, binding = objects["Role"], objects["RoleBinding"]
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                              "verbs": ["get", "list", "watch"]}]
    assert binding["metadata"]["namespace"] == "kube-system"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "podiam-agent",
                                    "namespace": "kube-system"}]
    ds = daemonset()
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "podiam-agent"
