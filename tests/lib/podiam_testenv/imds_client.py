"""What a pod does against the metadata address, for the E2E suites: SDK snippets, raw HTTP from
inside a pod namespace, and the namespace/pod set-up the agent tests share.

    ns = namespace(kube, ["app-*"])                 # a namespace allowing those roles
    obj = run_pod(kube, pod, ns, role="app-a")      # a pod object owning the netns pod's IP
    raw(pod, "out['x'] = call('GET', '/latest/meta-data/iam/security-credentials/')[:2]")
    status, headers, body = request(pod, "GET", "/latest/meta-data/...")   # in-process
    send_raw(pod, b"GET / HTTP/1.1\\r\\n...")       # exact bytes, the reply until close

`request`/`send_raw` open the TCP connection from inside the pod's namespace without a
subprocess, so tests can make thousands of requests quickly.
"""

from __future__ import annotations

import json
import socket
import time

from . import paths
from .netns import IMDS_IP

ROLE_KEY = "iam.amazonaws.com/role"
ALLOWED = "iam.amazonaws.com/allowed-roles"
ACCOUNT = "123456789012"
CREDS = "/latest/meta-data/iam/security-credentials/"
# The agent's own keys (tests/lib/podiam_testenv/agent.py): no pod may ever see them.
NODE_SECRETS = ("AKIAIOSFODNN7EXAMPLE", "node-agent-secret-not-for-pods")

WHOAMI_PY = """
import boto3, json
print(json.dumps(boto3.client("sts").get_caller_identity()["Arn"]))
"""

NO_CREDENTIALS_PY = """
import botocore.session
creds = botocore.session.get_session().get_credentials()
print("none" if creds is None else "got:" + creds.method)
"""

RAW_IMDS_PY = """
import http.client, json, sys
def call(method, path, headers=None):
    c = http.client.HTTPConnection("169.254.169.254", 80, timeout=3)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read().decode(), dict(r.getheaders())
out = {}
exec(sys.argv[1])
print(json.dumps(out))
"""


def raw(pod, code: str) -> dict:
    """Runs `code` in the pod with call(method, path, headers) -> (status, body, headers)."""
    r = pod.run([str(paths.PYTHON), "-c", RAW_IMDS_PY, code])
    return json.loads(r.stdout)


def namespace(kube, allowed, **annotations) -> str:
    """A fresh namespace whose allowed-roles annotation is the JSON list `allowed`."""
    return kube.create_namespace(annotations={ALLOWED: json.dumps(allowed), **annotations})[
        "metadata"]["name"]


def run_pod(kube, pod, ns, role=None, name=None, **kw) -> dict:
    """A running pod object in `ns` whose IP is the network-namespace pod's."""
    annotations = {ROLE_KEY: role} if role else None
    return kube.run_pod(name=name, namespace=ns, pod_ip=pod.ip, annotations=annotations, **kw)


def assumed(role, ns, pod_obj) -> str:
    """The assumed-role ARN a pod's session has: the session is named <namespace>.<pod>."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{ns}.{pod_obj['metadata']['name']}"


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip() == "content-length":
                    length = int(value.strip())
            if len(data) >= head_end + 4 + length:
                return data
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def parse_response(data: bytes) -> tuple[int, dict[str, str], str]:
    """(status, lower-cased headers, body) of one HTTP/1.1 response; (0, {}, "") if none."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return 0, {}, ""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.decode("utf-8", errors="replace")


def request(pod, method: str, path: str, headers: dict | None = None, body: bytes = b"",
            timeout: float = 5.0, host: str = IMDS_IP, port: int = 80) -> tuple[int, dict, str]:
    """One HTTP/1.1 request from inside `pod` (no subprocess) -> (status, headers, body)."""
    fields = {"Host": f"[{host}]" if ":" in host else host, "Connection": "close", **(headers or {})}
    if body or method in ("PUT", "POST"):
        fields["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return parse_response(send_raw(pod, head.encode() + b"\r\n" + body, timeout, host, port))


def send_raw(pod, data: bytes, timeout: float = 5.0, host: str = IMDS_IP, port: int = 80,
             read_all: bool = False) -> bytes:
    """Sends exactly `data` from inside `pod` and returns what comes back: the first response,
    or (read_all) everything until the server closes or `timeout` passes."""
    deadline = time.monotonic() + timeout
    with pod.connect(host, port, timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read_all:
            return _read_response(sock, deadline)
        out = b""
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def own_credentials(pod, role: str) -> dict:
    """The credentials document the agent gives `pod` for `role` (asserting a 200)."""
    status, _, body = request(pod, "GET", CREDS + role)
    assert status == 200, (status, body)
    return json.loads(body)
