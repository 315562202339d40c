"""`podiam webhook` for tests: a throwaway CA and serving certificate (made with `cryptography`),
the webhook process on loopback, and a MutatingWebhookConfiguration (URL clientConfig + caBundle)
that sends the real kube-apiserver's pod creations in selected namespaces to it.

    certs = WebhookCerts(tmp_dir)                       # ca.pem, tls.crt, tls.key
    hook = Webhook(cluster, certs, args=("--aws-default-region=eu-west-1",)).start()
    hook.register("my-test-id")                         # namespaces labelled podiam.io/webhook-test=my-test-id
    ...
    hook.stop()                                         # also deletes the configuration
"""

from __future__ import annotations

import base64
import ipaddress
import os
import ssl
import subprocess
import time
from pathlib import Path

import requests
from cryptography import x509

from .agent import podiam_binary
from .cluster import Cluster
from .moto import free_port
from .pki import cert_pem, key_pem, make_ca, make_leaf

TEST_LABEL = "podiam.io/webhook-test"

# The pod's mount view, as the kubelet would make it: a private mount namespace in which the
# projected token sits at the path the webhook injected (a tmpfs over /run, /var/run's target).
# Prefix a command with it and set PODIAM_TOKEN_SOURCE (a token file of the test) and
# PODIAM_TOKEN_PATH (the injected AWS_WEB_IDENTITY_TOKEN_FILE or
# AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) in its environment.
MOUNT_VIEW = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              'mount -t tmpfs tmpfs /run && mkdir -p "$(dirname "$PODIAM_TOKEN_PATH")" && '
              'cp "$PODIAM_TOKEN_SOURCE" "$PODIAM_TOKEN_PATH" && exec "$@"', "mount-view"]


class WebhookCerts:
    """A CA and a serving certificate for 127.0.0.1 in `directory`; rotate() replaces both (a new
    CA too) in place, the way a Secret update lands in a pod."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.dir / "ca.pem"
        self.cert_file = self.dir / "tls.crt"
        self.key_file = self.dir / "tls.key"
        self.rotate()

    def rotate(self) -> None:
        ca, ca_key = make_ca("podiam webhook test CA")
        cert, key = make_leaf(ca, ca_key, "podiam-webhook", sans=[
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
        self.ca_pem = cert_pem(ca)
        self.serial = cert.serial_number
        self.ca_file.write_bytes(self.ca_pem)
        # Key first, then certificate: the webhook must not load a mismatched pair for good.
        tmp_key = self.dir / "tls.key.tmp"
        tmp_key.write_bytes(key_pem(key))
        os.replace(tmp_key, self.key_file)
        tmp_cert = self.dir / "tls.crt.tmp"
        tmp_cert.write_bytes(cert_pem(cert))
        os.replace(tmp_cert, self.cert_file)

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode()


def served_serial(port: int) -> int:
    """Serial number of the certificate the webhook presents now (a fresh connection; not
    verified: during a rotation it may be either one)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


class Webhook:
    def __init__(self, cluster: Cluster, certs: WebhookCerts, args: tuple[str, ...] = (),
                 log_dir: Path | None = None):
        self.cluster = cluster
        self.certs = certs
        self.args = tuple(args)
        self.port = free_port()
        self.metrics_port = free_port()
        self.log_path = Path(log_dir or certs.dir) / f"webhook-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.configs: list[str] = []

    def start(self, wait_ready: bool = True) -> "Webhook":
        cmd = [str(podiam_binary()), "webhook", f"--kubeconfig={self.cluster.kubeconfig}",
               "--listen-address=127.0.0.1", f"--port={self.port}",
               f"--metrics-port={self.metrics_port}", f"--tls-cert={self.certs.cert_file}",
               f"--tls-key={self.certs.key_file}", "--tls-reload-interval=1s", *self.args]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "PODIAM_LOG_LEVEL": "debug"}
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        path = "/readyz" if wait_ready else "/healthz"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"webhook exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"webhook not {path} after 30 s:\n{self.log_tail()}")
            time.sleep(0.1)

    def register(self, test_id: str, failure_policy: str = "Fail", port: int | None = None,
                 timeout_seconds: int = 10) -> str:
        """A MutatingWebhookConfiguration for namespaces labelled TEST_LABEL=test_id."""
        name = f"podiam-webhook-test-{test_id}"
        body = {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{
                "name": "pod-identity-webhook.podiam.io",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "failurePolicy": failure_policy, "sideEffects": "None",
                "reinvocationPolicy": "IfNeeded", "timeoutSeconds": timeout_seconds,
                "clientConfig": {"url": f"https://127.0.0.1:{port or self.port}/mutate",
                                 "caBundle": self.certs.ca_bundle},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"]}],
                "namespaceSelector": {"matchLabels": {TEST_LABEL: test_id}},
                "objectSelector": {"matchExpressions": [{
                    "key": "eks.amazonaws.com/skip-pod-identity-webhook",
                    "operator": "DoesNotExist"}]},
            }],
        }
        rest = self.cluster.rest
        rest.delete(f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}",
                    ok=(404,))
        rest.post("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", body)
        self.configs.append(name)
        return name

    def update_ca_bundle(self, name: str) -> None:
        path = f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}"
        self.cluster.rest.patch(path, [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle",
                                        "value": self.certs.ca_bundle}], patch_type="json")

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def metric(self, name_and_labels: str) -> float:
        for line in self.metrics().splitlines():
            if line.startswith(name_and_labels + " "):
                return float(line.split()[-1])
        return 0.0

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"({e})"

    def stop(self) -> int | None:
        for name in self.configs:
            self.cluster.rest.delete(
                f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}",
                ok=(404,))
        self.configs.clear()
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                code = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        elif self.proc:
            code = self.proc.returncode
        if getattr(self, "log", None):
            self.log.close()
        return code

    def stop_checked(self) -> None:
        """stop(), then fails the test if the webhook did not exit 0 or its log shows a
        sanitizer report (module fixtures' teardown)."""
        code = self.stop()
        log = self.log_path.read_text(errors="replace")
        assert "AddressSanitizer" not in log and "runtime error:" not in log, self.log_tail(120)
        assert code == 0, f"webhook exit code {code}:\n{self.log_tail()}"
