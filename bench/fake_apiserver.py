"""A fake Kubernetes apiserver for the server scale benchmark (bench/server_bench.py,
docs/benchmarks.md "Server"): serves a simulated cluster of many pods (150,000 pods on 5,000 nodes by default)
WITHOUT etcd, so that a real `podiam server` can list and watch it as it would a real cluster.

    api = FakeApiserver(ClusterShape(pods=150_000, nodes=5_000, namespaces=500)).start()
    api.url          # http://127.0.0.1:PORT (plain HTTP: podiam's kube client accepts http://)
    api.write_kubeconfig(path)
    api.trickle(rate=10)   # optional: MODIFIED events at `rate` per second to every pod watch
    api.stop()

    python3 bench/fake_apiserver.py --pods 15000 --port 8080   # by hand

What it serves (JSON only, `Accept: application/json`; no protobuf, no Table):

- `GET /api/v1/{pods,namespaces,serviceaccounts}`: cluster-wide lists honouring `limit` and
  `continue` (the continue token is opaque to clients: base64 of the offset and the list's
  resourceVersion); `resourceVersion` and `resourceVersionMatch` are accepted and ignored (every
  list is the current snapshot, which never changes except for the trickle's resourceVersions).
  Label and field selectors are NOT honoured (400 if given, so a client relying on them notices).
- `GET /api/v1/namespaces/NS/pods/NAME` and `.../serviceaccounts/NAME`, `GET /api/v1/namespaces/NS`
  (direct reads; 404 Status for unknown names).
- `?watch=1` on the three lists: a chunked stream kept open until `timeoutSeconds` (default 300)
  or shutdown, carrying only events made after it opened (no replay from an older
  `resourceVersion`, no "410 Gone"): the trickle's `MODIFIED` pods (the same pod, a new
  resourceVersion and a new `podiam.bench/tick` annotation) and, with `allowWatchBookmarks=true`,
  a `BOOKMARK` every 30 s.
- `POST /apis/authentication.k8s.io/v1/tokenreviews`: always `authenticated: false` (the
  simulated cluster has no agents; latency is measured against the real apiserver).
- `POST .../events` and `PATCH .../events/NAME`: 201/200, echoed, not stored.
- Anything else: 404 with a `Status` body. No authentication, no RBAC, no TLS.

The objects (see `pod_json`): pod i is `app-<i>` in namespace `ns-<i mod namespaces>` on node
`node-<i mod nodes>`, a Deployment's pod (ownerReferences to its ReplicaSet, 4 labels,
managedFields of kube-controller-manager, the scheduler and the kubelet), 2 containers (app with
env, ports, probes, resources; a log-shipper sidecar), the projected ServiceAccount token volume,
status Running with 5 conditions, hostIP(s), podIP(s) and 2 container statuses. `role_percent` %
of the pods carry `iam.amazonaws.com/role: bench-role-NN` where NN is the namespace's index mod
`roles`: with `--session-scope=service-account` that is one session per namespace. Every
namespace has one ServiceAccount, `default`, and allows `bench-role-*`
(`iam.amazonaws.com/allowed-roles`). The pod JSON is about 5.1 KB (printed by `--sizes`).
All lists are pre-rendered at start (about 0.8 GB of Python bytes for 150,000 pods).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROLE_KEY = "iam.amazonaws.com/role"
ALLOWED_KEY = "iam.amazonaws.com/allowed-roles"
CREATED = "2026-12-01T08:00:00Z"
BOOKMARK_EVERY = 30.0


@dataclass(frozen=True)
class ClusterShape:
    pods: int = 150_000
    nodes: int = 5_000
    namespaces: int = 500
    roles: int = 50
    role_percent: int = 30


def pod_uid(i: int) -> str:
    return str(uuid.UUID(int=(0x5eed << 112) | i))


def pod_role(shape: ClusterShape, i: int) -> str | None:
    if ((i * 2654435761) >> 16) % 100 >= shape.role_percent:  # Knuth's multiplicative hash
        return None
    return f"bench-role-{(i % shape.namespaces) % shape.roles:02d}"


def pod_ip(i: int) -> str:
    return f"10.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def node_ip(n: int) -> str:
    return f"172.16.{n >> 8}.{n & 255}"


def pod_object(shape: ClusterShape, i: int, resource_version: int, tick: int | None = None,
               with_status: bool = True) -> dict:
    """Pod i of the simulated cluster as the apiserver would return it."""
    ns = f"ns-{i % shape.namespaces:04d}"
    node = i % shape.nodes
    app = f"app-{(i // shape.namespaces) % 20:02d}"
    rs_hash = f"{(i * 2654435761) % 0xFFFFFFFF:08x}"[:10]
    annotations = {"kubectl.kubernetes.io/restartedAt": "2026-11-30T12:00:00Z",
                   "prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
    role = pod_role(shape, i)
    if role:
        annotations[ROLE_KEY] = role
    if tick is not None:
        annotations["podiam.bench/tick"] = str(tick)
    image = f"registry.example.com/team/{app}:1.{i % 7}.3"
    app_container = {
        "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "env": [{"name": "AWS_REGION", "value": "us-east-1"},
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.name"}}}],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                      "requests": {"cpu": "100m", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                          "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                          "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                           "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1,
                           "failureThreshold": 3},
        "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    sidecar = {
        "name": "log-shipper", "image": "registry.example.com/infra/fluent-bit:3.1.4",
        "imagePullPolicy": "IfNotPresent",
        "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "10m", "memory": "64Mi"}},
        "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    meta = {
        "name": f"app-{i}", "generateName": f"{app}-{rs_hash}-", "namespace": ns,
        "uid": pod_uid(i), "resourceVersion": str(resource_version),
        "creationTimestamp": CREATED,
        "labels": {"app": app, "pod-template-hash": rs_hash, "tier": "backend",
                   "version": f"1.{i % 7}.3"},
        "annotations": annotations,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": f"{app}-{rs_hash}", "uid": pod_uid(i + (1 << 40)),
                             "controller": True, "blockOwnerDeletion": True}],
        "managedFields": [
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "time": CREATED, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {
                 "f:generateName": {},
                 "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
                 "f:ownerReferences": {".": {}}},
                          "f:spec": {"f:containers": {}, "f:volumes": {}}}},
            {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": CREATED,
             "fieldsType": "FieldsV1", "subresource": "status",
             "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {},
                                       "f:hostIP": {}, "f:podIP": {}, "f:podIPs": {},
                                       "f:startTime": {}}}}]}
    spec = {
        "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                                  "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}],
        "containers": [app_container, sidecar],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "serviceAccount": "default",
        "nodeName": f"node-{node:05d}",
        "securityContext": {}, "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"}
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if not with_status:
        del meta["managedFields"]
        return obj
    conditions = [{"type": t, "status": "True", "lastProbeTime": None,
                   "lastTransitionTime": CREATED}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                            "PodScheduled")]
    statuses = [{"name": c["name"], "state": {"running": {"startedAt": CREATED}},
                 "lastState": {}, "ready": True, "restartCount": 0, "image": c["image"],
                 "imageID": c["image"].split(":")[0] + "@sha256:" + f"{i:064x}",
                 "containerID": f"containerd://{i:032x}{k:032x}", "started": True}
                for k, c in enumerate((app_container, sidecar))]
    obj["status"] = {"phase": "Running", "conditions": conditions,
                     "hostIP": node_ip(node), "hostIPs": [{"ip": node_ip(node)}],
                     "podIP": pod_ip(i), "podIPs": [{"ip": pod_ip(i)}], "startTime": CREATED,
                     "containerStatuses": statuses, "qosClass": "Burstable"}
    return obj


def pod_json(shape: ClusterShape, i: int, resource_version: int, tick: int | None = None) -> bytes:
    return json.dumps(pod_object(shape, i, resource_version, tick), separators=(",", ":")).encode()


def namespace_object(n: int, resource_version: int) -> dict:
    name = f"ns-{n:04d}"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "uid": str(uuid.UUID(int=(0x5eee << 112) | n)),
        "resourceVersion": str(resource_version), "creationTimestamp": CREATED,
        "labels": {"kubernetes.io/metadata.name": name, "team": f"team-{n % 40}"},
        "annotations": {ALLOWED_KEY: '["bench-role-*"]'}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def service_account_object(n: int, resource_version: int) -> dict:
    ns = f"ns-{n:04d}"
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
        "name": "default", "namespace": ns, "uid": str(uuid.UUID(int=(0x5eef << 112) | n)),
        "resourceVersion": str(resource_version), "creationTimestamp": CREATED}}


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class _Collection:
    """One resource's pre-rendered items and its open watches."""

    def __init__(self, kind: str, items: list[bytes], names: dict[tuple[str, str], int]):
        self.kind, self.items, self.names = kind, items, names
        self.lock = threading.Lock()
        self.watchers: list[list] = []  # [queue of bytes, condition]

    def broadcast(self, line: bytes) -> None:
        with self.lock:
            watchers = list(self.watchers)
        for w in watchers:
            with w[1]:
                w[0].append(line)
                w[1].notify()


class FakeApiserver:
    def __init__(self, shape: ClusterShape, host: str = "127.0.0.1", port: int = 0):
        self.shape = shape
        self.rv = 1000
        self.requests: dict[str, int] = {}
        self._count_lock = threading.Lock()
        t = time.monotonic()
        rv = self.rv
        pods = [pod_json(shape, i, rv) for i in range(shape.pods)]
        self.render_seconds = time.monotonic() - t
        self.pod_bytes = sum(len(p) for p in pods)
        self.collections = {
            "pods": _Collection("PodList", pods, {
                (f"ns-{i % shape.namespaces:04d}", f"app-{i}"): i for i in range(shape.pods)}),
            "namespaces": _Collection("NamespaceList", [
                dumps(namespace_object(n, rv)) for n in range(shape.namespaces)],
                {("", f"ns-{n:04d}"): n for n in range(shape.namespaces)}),
            "serviceaccounts": _Collection("ServiceAccountList", [
                dumps(service_account_object(n, rv)) for n in range(shape.namespaces)],
                {(f"ns-{n:04d}", "default"): n for n in range(shape.namespaces)}),
        }
        self._stopping = threading.Event()
        self._trickle: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeApiserver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for c in self.collections.values():
            c.broadcast(b"")  # wakes the watch threads, which then see _stopping
        self.httpd.shutdown()
        self.httpd.server_close()

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "bench", "user": {"token": "fake-apiserver-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "bench"}}]}))
        return path

    def count(self, key: str) -> None:
        with self._count_lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def modify_pod(self, i: int) -> None:
        """A MODIFIED event for pod i to every open pod watch."""
        with self._count_lock:
            self.rv += 1
            rv = self.rv
        obj = pod_object(self.shape, i, rv, tick=rv)
        self.collections["pods"].broadcast(dumps({"type": "MODIFIED", "object": obj}) + b"\n")

    def trickle(self, rate: float, seed: int = 1) -> None:
        """MODIFIED events for random pods at `rate` per second until stop()."""
        rnd = random.Random(seed)

        def run():
            while not self._stopping.wait(1.0 / rate):
                self.modify_pod(rnd.randrange(self.shape.pods))

        self._trickle = threading.Thread(target=run, daemon=True)
        self._trickle.start()

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(code, dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Failure", "message": message,
                                        "reason": reason, "code": code}))

            def _read_body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_GET(self):
                url = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                parts = [p for p in url.path.split("/") if p]
                if parts[:2] != ["api", "v1"]:
                    return self._status(404, "NotFound", f"the server could not find {url.path}")
                rest = parts[2:]
                if len(rest) == 1 and rest[0] in api.collections:
                    if q.get("labelSelector") or q.get("fieldSelector"):
                        return self._status(400, "BadRequest",
                                            "fake apiserver: selectors are not supported")
                    api.count(("watch " if q.get("watch") in ("1", "true") else "list ") + rest[0])
                    if q.get("watch") in ("1", "true"):
                        return self._watch(api.collections[rest[0]], q)
                    return self._list(api.collections[rest[0]], q)
                if len(rest) == 2 and rest[0] == "namespaces":
                    return self._get("namespaces", "", rest[1])
                if len(rest) == 4 and rest[0] == "namespaces" and rest[2] in ("pods",
                                                                             "serviceaccounts"):
                    return self._get(rest[2], rest[1], rest[3])
                return self._status(404, "NotFound", f"the server could not find {url.path}")

            def _get(self, resource: str, ns: str, name: str):
                api.count("get " + resource)
                c = api.collections[resource]
                i = c.names.get((ns, name))
                if i is None:
                    return self._status(404, "NotFound", f'{resource} "{name}" not found')
                return self._send(200, c.items[i])

            def _list(self, c: _Collection, q: dict):
                items = c.items
                offset, rv = 0, api.rv
                if q.get("continue"):
                    try:
                        offset_s, rv_s = base64.b64decode(q["continue"]).decode().split(":")
                        offset, rv = int(offset_s), int(rv_s)
                    except (ValueError, UnicodeDecodeError):
                        return self._status(400, "BadRequest", "invalid continue token")
                limit = int(q.get("limit") or 0)
                end = len(items) if limit <= 0 else min(len(items), offset + limit)
                meta = {"resourceVersion": str(rv)}
                if end < len(items):
                    meta["continue"] = base64.b64encode(f"{end}:{rv}".encode()).decode()
                    meta["remainingItemCount"] = len(items) - end
                head = (b'{"kind":"' + c.kind.encode() + b'","apiVersion":"v1","metadata":'
                        + dumps(meta) + b',"items":[')
                body = head + b",".join(items[offset:end]) + b"]}"
                self._send(200, body)

            def _watch(self, c: _Collection, q: dict):
                timeout = float(q.get("timeoutSeconds") or 300)
                bookmarks = q.get("allowWatchBookmarks") == "true"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                w = [[], threading.Condition()]
                with c.lock:
                    c.watchers.append(w)
                deadline = time.monotonic() + timeout
                next_bookmark = time.monotonic() + BOOKMARK_EVERY
                try:
                    while not api._stopping.is_set():
                        now = time.monotonic()
                        if now >= deadline:
                            break
                        with w[1]:
                            if not w[0]:
                                w[1].wait(min(deadline, next_bookmark) - now)
                            lines, w[0] = w[0], []
                        if bookmarks and time.monotonic() >= next_bookmark:
                            next_bookmark += BOOKMARK_EVERY
                            lines.append(dumps({"type": "BOOKMARK", "object": {
                                "kind": c.kind[:-4], "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(api.rv)}}}) + b"\n")
                        data = b"".join(lines)
                        if data:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass
                finally:
                    with c.lock:
                        c.watchers.remove(w)
                    self.close_connection = True

            def do_POST(self):
                body = self._read_body()
                path = urlsplit(self.path).path
                if path == "/apis/authentication.k8s.io/v1/tokenreviews":
                    api.count("create tokenreviews")
                    review = json.loads(body or b"{}")
                    review["status"] = {"authenticated": False,
                                        "error": "fake apiserver: no tokens are valid"}
                    return self._send(201, dumps(review))
                if path.endswith("/events"):
                    api.count("create events")
                    return self._send(201, body or b"{}")
                return self._status(404, "NotFound", f"the server could not find {path}")

            def do_PATCH(self):
                body = self._read_body()
                if "/events/" in urlsplit(self.path).path:
                    api.count("patch events")
                    return self._send(200, body or b"{}")
                return self._status(404, "NotFound", "not found")

        return Handler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--nodes", type=int, default=5_000)
    ap.add_argument("--namespaces", type=int, default=500)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--trickle", type=float, default=0.0, help="MODIFIED pod events per second")
    ap.add_argument("--sizes", action="store_true", help="print the object sizes and exit")
    args = ap.parse_args(argv)
    shape = ClusterShape(pods=args.pods, nodes=args.nodes, namespaces=args.namespaces)
    if args.sizes:
        sizes = [len(pod_json(shape, i, 1000)) for i in range(min(args.pods, 1000))]
        print(json.dumps({"pod_json_bytes_mean": sum(sizes) / len(sizes),
                          "pod_json_bytes_min": min(sizes), "pod_json_bytes_max": max(sizes)}))
        return 0
    api = FakeApiserver(shape, args.host, args.port).start()
    if args.trickle > 0:
        api.trickle(args.trickle)
    print(f"serving {args.pods} pods on {api.url} (rendered in {api.render_seconds:.1f} s)",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
