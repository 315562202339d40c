"""A "kubelet stand-in": makes the API objects a node agent sees, on a cluster without kubelets.

Pods are created with spec.nodeName (so no scheduler is involved) and their status (phase, IPs)
is written through the status subresource, as a kubelet would. Nothing runs: images are never
pulled. Names come from unique() so tests sharing one cluster never collide.

    k = Kube(cluster.rest, namespace="t-abc123")
    node = k.create_node()
    sa = k.create_service_account("app", annotations={"example.com/role": "arn:..."})
    pod = k.run_pod(service_account="app", node=node)        # created + Running with a fresh IP
    tok = k.request_token("app", audiences=["sts.amazonaws.com"], pod=pod)
    k.token_review(tok, ["sts.amazonaws.com"])["user"]["extra"]
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any, Callable, Iterable, Iterator, Mapping

from .cluster import ApiError, Rest

EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"

# Pod IPs handed out by new_ip(): unique within a test session (the API only stores them).
_ip_counter = itertools.count(1)


def unique(prefix: str = "t") -> str:
    """A DNS-1123 name: the prefix (lower-cased, trimmed) plus a random suffix."""
    clean = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")[:40] or "t"
    return f"{clean}-{secrets.token_hex(4)}"


def new_ip() -> str:
    """A pod IP from 10.200.0.0/16 not handed out before in this process."""
    n = next(_ip_counter)
    if n >= 65534:
        raise RuntimeError("new_ip: 10.200.0.0/16 exhausted")
    return f"10.200.{n >> 8}.{n & 0xFF}"


def _meta(name: str, namespace: str | None = None, annotations: Mapping[str, str] | None = None,
          labels: Mapping[str, str] | None = None) -> dict:
    m: dict[str, Any] = {"name": name}
    if namespace:
        m["namespace"] = namespace
    if annotations:
        m["annotations"] = dict(annotations)
    if labels:
        m["labels"] = dict(labels)
    return m


class Kube:
    def __init__(self, rest: Rest, namespace: str | None = None, host_ip: str = "192.0.2.10"):
        self.rest = rest
        self.namespace = namespace
        self.host_ip = host_ip  # default status.hostIP (TEST-NET-1: only ever API data)
        self._node: str | None = None
        self.created_nodes: list[str] = []

    def _ns(self, namespace: str | None) -> str:
        ns = namespace or self.namespace
        if not ns:
            raise ValueError("no namespace given and the Kube has no default namespace")
        return ns

    # --- namespaces and ServiceAccounts ---
    def create_namespace(self, name: str | None = None, annotations: Mapping[str, str] | None = None,
                         labels: Mapping[str, str] | None = None, wait_default_sa: bool = True,
                         timeout: float = 30) -> dict:
        """Creates a namespace. With wait_default_sa, waits until kube-controller-manager has made
        its `default` ServiceAccount: before that, pods without their own SA are rejected."""
        ns = self.rest.post("/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name or unique("ns"), None, annotations, labels)})
        if wait_default_sa:
            self.wait_service_account("default", ns["metadata"]["name"], timeout)
        return ns

    def delete_namespace(self, name: str) -> None:
        """Force-deletes the namespace's pods first (without a kubelet, gracefully deleted pods
        would stay Terminating and keep the namespace from going away), then the namespace."""
        self.rest.delete(f"/api/v1/namespaces/{name}/pods", params={"gracePeriodSeconds": 0}, ok=(404,))
        self.rest.delete(f"/api/v1/namespaces/{name}", ok=(404, 409))

    def create_service_account(self, name: str | None = None, namespace: str | None = None,
                               annotations: Mapping[str, str] | None = None,
                               labels: Mapping[str, str] | None = None) -> dict:
        ns = self._ns(namespace)
        return self.rest.post(f"/api/v1/namespaces/{ns}/serviceaccounts", {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name or unique("sa"), ns, annotations, labels)})

    def get_service_account(self, name: str, namespace: str | None = None) -> dict:
        return self.rest.get(f"/api/v1/namespaces/{self._ns(namespace)}/serviceaccounts/{name}")

    def wait_service_account(self, name: str, namespace: str | None = None, timeout: float = 30) -> dict:
        ns = self._ns(namespace)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get_service_account(name, ns)
            except ApiError as e:
                if e.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    # --- nodes ---
    def create_node(self, name: str | None = None, labels: Mapping[str, str] | None = None) -> str:
        """Creates a Node object (no kubelet behind it); returns its name. Pod-bound tokens carry
        node-name/node-uid claims only for pods on an existing Node. Existing nodes are kept."""
        name = name or unique("node")
        body = {"apiVersion": "v1", "kind": "Node", "metadata": _meta(name, None, None, labels)}
        try:
            self.rest.post("/api/v1/nodes", body)
            self.created_nodes.append(name)
        except ApiError as e:
            if e.status != 409:
                raise
        return name

    @property
    def node(self) -> str:
        """A node of this Kube's own, created on first use: the default for create_pod."""
        if self._node is None:
            self._node = self.create_node()
        return self._node

    def get_node(self, name: str) -> dict:
        return self.rest.get(f"/api/v1/nodes/{name}")

    def delete_node(self, name: str) -> None:
        self.rest.delete(f"/api/v1/nodes/{name}", ok=(404,))

    # --- pods ---
    def create_pod(self, name: str | None = None, node: str | None = None, namespace: str | None = None,
                   annotations: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
                   service_account: str | None = None, host_network: bool = False,
                   spec: Mapping[str, Any] | None = None) -> dict:
        """Creates a pod bound to `node` (default: self.node). `spec` entries override the
        defaults (one container that never runs)."""
        ns = self._ns(namespace)
        s: dict[str, Any] = {
            "nodeName": node or self.node,
            "containers": [{"name": "app", "image": "registry.invalid/podiam-test:none"}],
        }
        if service_account:
            s["serviceAccountName"] = service_account
        if host_network:
            s["hostNetwork"] = True
        s.update(spec or {})
        return self.rest.post(f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": _meta(name or unique("pod"), ns, annotations, labels), "spec": s})

    def set_pod_status(self, name: str, phase: str = "Running", pod_ip: str | None = None,
                       pod_ips: Iterable[str] | None = None, host_ip: str | None = None,
                       namespace: str | None = None, ready: bool | None = None,
                       extra: Mapping[str, Any] | None = None) -> dict:
        """Merge-patches the status subresource as a kubelet would. pod_ips defaults to [pod_ip];
        host_ip to self.host_ip. Returns the updated pod."""
        ns = self._ns(namespace)
        status: dict[str, Any] = {"phase": phase, "hostIP": host_ip or self.host_ip}
        status["hostIPs"] = [{"ip": status["hostIP"]}]
        ips = list(pod_ips) if pod_ips is not None else ([pod_ip] if pod_ip else [])
        if pod_ip is None and ips:
            pod_ip = ips[0]
        if pod_ip is not None:
            ips = ips or [pod_ip]
            if ips[0] != pod_ip:
                raise ValueError("podIPs[0] must equal podIP")
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": ip} for ip in ips]
        if ready is not None:
            status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
        status.update(extra or {})
        return self.rest.patch(f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": status})

    def run_pod(self, name: str | None = None, pod_ip: str | None = None, host_ip: str | None = None,
                phase: str = "Running", **create_kw: Any) -> dict:
        """create_pod + set_pod_status: a pod as it looks once its node started it. The IP is a
        fresh new_ip(), or the host IP for host_network pods."""
        pod = self.create_pod(name, **create_kw)
        host_ip = host_ip or self.host_ip
        if pod_ip is None:
            pod_ip = host_ip if create_kw.get("host_network") else new_ip()
        return self.set_pod_status(pod["metadata"]["name"], phase=phase, pod_ip=pod_ip, host_ip=host_ip,
                                   namespace=pod["metadata"]["namespace"])

    def get_pod(self, name: str, namespace: str | None = None) -> dict:
        return self.rest.get(f"/api/v1/namespaces/{self._ns(namespace)}/pods/{name}")

    def list_pods(self, namespace: str | None = None, field_selector: str | None = None,
                  label_selector: str | None = None, **params: Any) -> dict:
        """PodList of one namespace, or of all namespaces when namespace == "" ."""
        path = "/api/v1/pods" if namespace == "" else f"/api/v1/namespaces/{self._ns(namespace)}/pods"
        if field_selector:
            params["fieldSelector"] = field_selector
        if label_selector:
            params["labelSelector"] = label_selector
        return self.rest.get(path, params=params)

    def delete_pod(self, name: str, namespace: str | None = None, grace_period_seconds: int | None = 0,
                   wait: bool = True, timeout: float = 30) -> None:
        """Deletes a pod. The default grace period 0 removes it at once; any other grace period
        leaves it Terminating (deletionTimestamp set) forever, as no kubelet confirms the stop.
        With wait, returns once the pod is gone (only meaningful for grace 0)."""
        ns = self._ns(namespace)
        params = {} if grace_period_seconds is None else {"gracePeriodSeconds": grace_period_seconds}
        self.rest.delete(f"/api/v1/namespaces/{ns}/pods/{name}", params=params, ok=(404,))
        if wait and grace_period_seconds == 0:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self.get_pod(name, ns)
                except ApiError as e:
                    if e.status == 404:
                        return
                    raise
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pod {ns}/{name} still exists {timeout} s after deletion")
                time.sleep(0.05)

    def reuse_ip(self, old: dict, old_becomes: str = "deleted", name: str | None = None, **run_kw: Any) -> dict:
        """Ends pod `old` and starts a new pod with the same IP on the same node, as a node's IP
        allocator would. old_becomes: "deleted" (gone from the API) or a terminal phase
        ("Succeeded"/"Failed": it stays in the API, still showing the IP). Returns the new pod."""
        ns = old["metadata"]["namespace"]
        ip = old["status"]["podIP"]
        if old_becomes == "deleted":
            self.delete_pod(old["metadata"]["name"], ns)
        elif old_becomes in ("Succeeded", "Failed"):
            self.set_pod_status(old["metadata"]["name"], phase=old_becomes, pod_ip=ip,
                                host_ip=old["status"].get("hostIP"), namespace=ns)
        else:
            raise ValueError(f"old_becomes: {old_becomes!r}")
        run_kw.setdefault("node", old["spec"]["nodeName"])
        run_kw.setdefault("namespace", ns)
        return self.run_pod(name, pod_ip=ip, **run_kw)

    # --- tokens ---
    def request_token(self, service_account: str, audiences: Iterable[str] = ("sts.amazonaws.com",),
                      pod: dict | None = None, namespace: str | None = None,
                      expiration_seconds: int = 3600, full: bool = False) -> Any:
        """TokenRequest for a ServiceAccount, bound to `pod` (a pod object) if given, as the
        kubelet does for projected tokens. Returns the JWT (or the whole TokenRequest if full).
        The pod must run as that ServiceAccount; expiration_seconds >= 600."""
        ns = self._ns(namespace)
        spec: dict[str, Any] = {"audiences": list(audiences), "expirationSeconds": expiration_seconds}
        if pod is not None:
            spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod",
                                      "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        tr = self.rest.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{service_account}/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        return tr if full else tr["status"]["token"]

    def token_review(self, token: str, audiences: Iterable[str] | None = None) -> dict:
        """TokenReview; returns its status ({authenticated, user{username, uid, groups, extra},
        audiences, error})."""
        spec: dict[str, Any] = {"token": token}
        if audiences is not None:
            spec["audiences"] = list(audiences)
        return self.rest.post("/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec})["status"]

    # --- watches ---
    def watch(self, path: str, resource_version: str | None = None, timeout: float = 30,
              **params: Any) -> Iterator[dict]:
        """Yields watch events ({"type", "object"}) of a collection path, e.g. /api/v1/pods, for
        at most `timeout` seconds. Extra params go to the query (fieldSelector=...,
        allowWatchBookmarks=True...). An in-stream ERROR event is yielded like any other."""
        q: dict[str, Any] = {"watch": "1", **{k: _q(v) for k, v in params.items()}}
        if resource_version is not None:
            q["resourceVersion"] = resource_version
        return self.rest.stream(path, q, timeout)

    def watch_pods(self, namespace: str | None = None, resource_version: str | None = None,
                   timeout: float = 30, **params: Any) -> Iterator[dict]:
        """Pod watch in one namespace (default self.namespace), or all namespaces with ""."""
        path = "/api/v1/pods" if namespace == "" else f"/api/v1/namespaces/{self._ns(namespace)}/pods"
        return self.watch(path, resource_version, timeout, **params)


def wait_for_event(events: Iterator[dict], predicate: Callable[[dict], bool]) -> dict:
    """First event matching predicate; AssertionError listing what was seen if the watch ends
    (its timeout) first."""
    seen = []
    for ev in events:
        if predicate(ev):
            return ev
        meta = ev.get("object", {}).get("metadata", {})
        seen.append(f"{ev.get('type')} {meta.get('name')} rv={meta.get('resourceVersion')}")
    raise AssertionError("watch ended without the expected event; saw: " + ("; ".join(seen) or "nothing"))


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def install_crd(rest: Rest, crd: dict, timeout: float = 30) -> dict:
    """Creates `crd` (a parsed CustomResourceDefinition; one that exists already is kept: the
    E2E suites share one apiserver) and waits until it is Established. Returns the object."""
    try:
        rest.post(CRD_PATH, crd)
    except ApiError as e:
        if e.status != 409:
            raise
    return wait_crd_established(rest, crd["metadata"]["name"], timeout)


def apply_crd(rest: Rest, crd: dict, field_manager: str = "podiam-test",
              timeout: float = 30) -> dict:
    """Server-side apply of `crd`, as `kubectl apply --server-side --force-conflicts` (a second
    apply of the same object is a no-op, not a conflict), then waits until it is Established."""
    rest.patch(f"{CRD_PATH}/{crd['metadata']['name']}", crd, patch_type="apply",
               params={"fieldManager": field_manager, "force": "true"})
    return wait_crd_established(rest, crd["metadata"]["name"], timeout)


def wait_crd_established(rest: Rest, name: str, timeout: float = 30) -> dict:
    """The CRD `name` once its Established condition is True (AssertionError after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        got = rest.get(f"{CRD_PATH}/{name}")
        if any(c["type"] == "Established" and c["status"] == "True"
               for c in (got.get("status") or {}).get("conditions") or []):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"CRD {name} not Established after {timeout:.0f} s: "
                                 f"{got.get('status')}")
        time.sleep(0.2)


def _q(v: Any) -> Any:
    return ("true" if v else "false") if isinstance(v, bool) else v
