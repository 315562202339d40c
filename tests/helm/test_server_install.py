"""`helm install` of deploy/helm/podiam with `server.enabled` (agents in server mode) into the test
kube-apiserver, then the whole chain run from what was installed: `podiam server` with the
installed Deployment's args and env and the installed ServiceAccount's token and RBAC, `podiam
agent` on the test node with the installed DaemonSet's args and env, its token for the audience
the installed projected volume asks for (bound to an agent pod on the node, as the kubelet's
is), and unmodified boto3 in a pod getting its role through both.

What the test replaces is only what a cluster gives a pod: the mounted files (the serving
certificate, the CA, the token) by test files, the Service address by the server's loopback port
relayed into the node, --kubeconfig (in-cluster there), --sts-endpoint (moto here) and the
listen addresses (loopback instead of the pod's 0.0.0.0).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
import yaml

from podiam_testenv.agent import (BASE_ROLE_ARN, MOTO_SESSION_TOKEN_PREFIX, Agent, node_agent_env,
                                  podiam_binary, stop_group)
from podiam_testenv.helm import CHART, Helm, expand, kubelet_env
from podiam_testenv.imds_client import WHOAMI_PY, assumed, namespace, run_pod
from podiam_testenv.kube import unique
from podiam_testenv.moto import free_port
from podiam_testenv.netns import NODE_IP, NODE_VETH_PREFIX, Relay
from podiam_testenv.server import spawn_until_ready
from podiam_testenv.webhook import WebhookCerts

pytestmark = pytest.mark.e2e

RELEASE = "podiam-srv"
SERVER_MOUNT = "/var/run/secrets/podiam/server"
SERVER_TLS = "/etc/podiam-server/tls"
PEER_TOKEN_MOUNT = "/var/run/secrets/podiam/peer"
PEER_CA_MOUNT = "/etc/podiam-server/ca"


class InstalledServer:
    """`podiam server` as a host process with the installed Deployment's args (the mounted files
    and listen addresses replaced), its ServiceAccount's token in the kubeconfig."""

    def __init__(self, cluster, kube, sts, certs: WebhookCerts, deployment: dict):
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-helm-server-"))
        self.log_path = self.dir / "server.log"
        self.certs = certs
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        ns = deployment["metadata"]["namespace"]
        self.sa_token = kube.request_token(spec["serviceAccountName"], audiences=(), namespace=ns,
                                           expiration_seconds=3600)
        kubeconfig = self.dir / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "server",
            "clusters": [{"name": "test", "cluster": {
                "server": cluster.server, "certificate-authority": cluster.ca_file}}],
            "users": [{"name": "server", "user": {"token": self.sa_token}}],
            "contexts": [{"name": "server", "context": {"cluster": "test", "user": "server"}}],
        }))
        tls = self.dir / "tls"
        tls.mkdir()
        for name, src in {"cert.pem": certs.cert_file, "key.pem": certs.key_file}.items():
            (tls / name).write_bytes(src.read_bytes())
        # Sharding's mounts: the replica's own token for its peers (audience podiam-server) and
        # the CA ConfigMap's certificate (one replica here: it owns every key, asks no peer).
        peer_token, peer_ca = self.dir / "peer", self.dir / "ca"
        peer_token.mkdir()
        peer_ca.mkdir()
        (peer_token / "token").write_text(kube.request_token(
            spec["serviceAccountName"], audiences=("podiam-server",), namespace=ns,
            expiration_seconds=3600))
        (peer_ca / "ca.crt").write_bytes(certs.ca_pem)
        https = [p["containerPort"] for p in container["ports"] if p["name"] == "https"][0]
        args = []
        for a in container["args"]:
            a = a.replace(SERVER_TLS, str(tls))
            a = a.replace(PEER_TOKEN_MOUNT, str(peer_token)).replace(PEER_CA_MOUNT, str(peer_ca))
            a = a.replace(f"--listen=0.0.0.0:{https}", f"--listen=127.0.0.1:{self.port}")
            a = re.sub(r"^--metrics-listen=0\.0\.0\.0:\d+$", f"--metrics-listen=127.0.0.1:{free_port()}", a)
            args.append(a)
        self.args = args
        env = {**node_agent_env(self.dir), "PODIAM_LOG_LEVEL": "debug",
               **kubelet_env(container, {"metadata.name": f"{RELEASE}-server-0",
                                         "metadata.namespace": ns, "status.podIP": "127.0.0.1"})}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.cmd = [str(podiam_binary()), *args, "--kubeconfig", str(kubeconfig),
                    "--sts-endpoint", sts.endpoint]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "InstalledServer":
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = spawn_until_ready(self.cmd, self.env, self.log, self.get, self.log_tail)
        return self

    def stop(self) -> int:
        code = stop_group(self.proc)
        self.log.close()
        return code

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, verify=self.certs.ca_file, timeout=10)

    def metric(self, name: str, labels: str) -> float:
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(f"{name}{{{labels}}} "):
                return float(line.split()[-1])
        return 0.0


def test_pod_gets_its_role_through_the_helm_installed_server_and_agent(
        cluster, kube, node, pods, sts, tmp_path):
    certs = WebhookCerts(tmp_path / "certs")  # the serving certificate names 127.0.0.1
    release_ns = kube.namespace
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({
        "agent": {"host": {"interface": f"{NODE_VETH_PREFIX}+"}, "baseRoleArn": BASE_ROLE_ARN,
                  "containerCredentials": {"link": "lo"},
                  # no node matches: the controllers start no pods; the test runs both processes
                  "nodeSelector": {"podiam.io/helm-test": "none"}},
        "server": {"enabled": True, "nodeSelector": {"podiam.io/helm-test": "none"},
                   "tls": {"existingSecret": f"{RELEASE}-server-tls",
                           "caBundle": certs.ca_pem.decode()}},
    }))
    helm = Helm(home=tmp_path / "helm")
    r = helm.run("install", RELEASE, str(CHART), "--namespace", release_ns, "-f", str(values),
                 kubeconfig=cluster.kubeconfig)
    assert "STATUS: deployed" in r.stdout, r.stdout
    assert f"rollout status deployment/{RELEASE}-server" in r.stdout  # NOTES.txt
    server = agent = None
    try:
        apps = f"/apis/apps/v1/namespaces/{release_ns}"
        dep = kube.rest.get(f"{apps}/deployments/{RELEASE}-server")
        server = InstalledServer(cluster, kube, sts, certs, dep).start()

        ds = kube.rest.get(f"{apps}/daemonsets/{RELEASE}-agent")
        spec = ds["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = kubelet_env(container, {"spec.nodeName": kube.node, "status.hostIP": NODE_IP})
        assert not [k for k in env if k.startswith("AWS_")], env
        # The projected volume: the token's audience, and the CA the chart put in its ConfigMap.
        (volume,) = spec["volumes"]
        sources = volume["projected"]["sources"]
        (token_source,) = [s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s]
        (ca_source,) = [s["configMap"] for s in sources if "configMap" in s]
        ca = kube.rest.get(f"/api/v1/namespaces/{release_ns}/configmaps/{ca_source['name']}")
        mounted = tmp_path / "server-volume"
        mounted.mkdir()
        (mounted / "ca.crt").write_text(ca["data"]["ca.crt"])
        agent_pod = kube.run_pod(name=unique("agent"), node=kube.node,
                                 service_account=spec["serviceAccountName"], namespace=release_ns)
        (mounted / token_source["path"]).write_text(kube.request_token(
            spec["serviceAccountName"], audiences=(token_source["audience"],), pod=agent_pod,
            namespace=release_ns, expiration_seconds=token_source["expirationSeconds"]))
        service_url = f"https://{RELEASE}-server.{release_ns}.svc:8443"
        args = []
        for a in container["args"]:
            a = expand(a, env).replace(SERVER_MOUNT, str(mounted))
            args.append(a.replace(service_url, server.url))
        assert f"--server={server.url}" in args, args
        # The server as the node sees it: its loopback, same port (the certificate names 127.0.0.1).
        node._closing(Relay(("127.0.0.1", server.port), "127.0.0.1", server.port, node.name))
        agent = Agent(cluster, kube, node, sts, command=args,
                      service_account=(release_ns, spec["serviceAccountName"]), env=env).start()

        ns = namespace(kube, ["app-helm-srv"])
        (pod,) = pods(1)
        obj = run_pod(kube, pod, ns, role="app-helm-srv")
        assert json.loads(pod.python(WHOAMI_PY).stdout) == assumed("app-helm-srv", ns, obj)
        # The server called STS; the agent asked the server and called no STS itself.
        assert agent.metric("podiam_sts_calls_total") == 0
        assert agent.metric("podiam_server_client_requests_total", result="ok") >= 1
        assert server.metric("podiam_server_requests_total", 'code="200"') >= 1
    finally:
        if agent is not None:
            code = agent.stop()
            assert not agent.secrets_in_log(), agent.secrets_in_log()
            assert code == 0, agent.log_tail()
        if server is not None:
            code = server.stop()
            text = server.log_path.read_text(errors="replace")
            assert MOTO_SESSION_TOKEN_PREFIX not in text, "a session token in the server log"
            assert server.sa_token[20:60] not in text, "a ServiceAccount token in the server log"
            assert code == 0, server.log_tail()
        helm.run("uninstall", RELEASE, "--namespace", release_ns, kubeconfig=cluster.kubeconfig)
