"""The podiam Helm chart under test: helm itself (built from its Go module by
tests/helm/tool/build.sh into $PODIAM_CACHE), rendering, and server-side dry-runs of the rendered
objects against the real kube-apiserver.

    h = Helm()
    docs = h.template("podiam", "ns", values=[path])      # list of dicts
    Apiserver(cluster.rest).dry_run(doc)                  # raises ApiError if refused
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import paths
from .cluster import ApiError, Rest

CHART = paths.REPO / "deploy" / "helm" / "podiam"
TOOL = paths.TESTS / "helm" / "tool" / "build.sh"


def kubelet_env(container: dict, fields: dict[str, str]) -> dict[str, str]:
    """The container's env as the kubelet resolves it: values as written, fieldRefs from
    `fields` (fieldPath -> value, e.g. {"spec.nodeName": node})."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in args (unknown references stay as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), arg)


def helm_binary() -> Path:
    """The pinned helm; built on first use (scripts/setup builds it ahead)."""
    r = subprocess.run([str(TOOL)], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"building helm failed:\n{r.stderr[-3000:]}")
    return Path(r.stdout.strip())


class HelmError(RuntimeError):
    def __init__(self, args: list[str], result: subprocess.CompletedProcess):
        self.stderr = result.stderr
        self.stdout = result.stdout
        super().__init__(f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}")


class Helm:
    def __init__(self, binary: Path | None = None, home: Path | None = None):
        self.binary = binary or helm_binary()
        self.home = home

    def env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1"}
        if self.home:  # keep helm's caches and config out of the user's home
            for name, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"),
                              ("HELM_DATA_HOME", "data")):
                env[name] = str(self.home / sub)
        return env

    def run(self, *args: str, kubeconfig: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        env = self.env()
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        r = subprocess.run([str(self.binary), *args], capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise HelmError(list(args), r)
        return r

    @staticmethod
    def value_args(values: Iterable[Path] = (), sets: Iterable[str] = ()) -> list[str]:
        args: list[str] = []
        for v in values:
            args += ["-f", str(v)]
        for s in sets:
            args += ["--set", s]
        return args

    def template(self, release: str, namespace: str, values: Iterable[Path] = (),
                 sets: Iterable[str] = (), chart: Path = CHART, check: bool = True,
                 extra: Iterable[str] = ()) -> list[dict]:
        r = self.run("template", release, str(chart), "--namespace", namespace, "--include-crds",
                     *self.value_args(values, sets), *extra, check=check)
        if r.returncode != 0:
            raise HelmError(["template"], r)
        return [d for d in yaml.safe_load_all(r.stdout) if d]

    def lint(self, values: Iterable[Path] = (), sets: Iterable[str] = (),
             chart: Path = CHART) -> subprocess.CompletedProcess:
        return self.run("lint", "--strict", str(chart), *self.value_args(values, sets), check=False)


class Apiserver:
    """Finds each kind's REST path by discovery and dry-runs or creates objects."""

    def __init__(self, rest: Rest):
        self.rest = rest
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def resource(self, api_version: str, kind: str, refresh: bool = False) -> tuple[str, bool]:
        """(base path of the collection without namespace, namespaced?) for apiVersion+kind."""
        key = (api_version, kind)
        if key not in self._resources or refresh:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            for r in self.rest.get(base)["resources"]:
                if "/" not in r["name"]:
                    self._resources[(api_version, r["kind"])] = (r["name"], r["namespaced"])
        if key not in self._resources:
            raise KeyError(f"the apiserver serves no {kind} in {api_version}")
        return self._resources[key]

    def collection(self, doc: dict, namespace: str | None = None) -> str:
        api_version, kind = doc["apiVersion"], doc["kind"]
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        plural, namespaced = self.resource(api_version, kind)
        if namespaced:
            ns = doc["metadata"].get("namespace") or namespace
            assert ns, f"{kind} {doc['metadata']['name']} has no namespace"
            return f"{base}/namespaces/{ns}/{plural}"
        return f"{base}/{plural}"

    def dry_run(self, doc: dict, namespace: str | None = None) -> dict:
        """Server-side dry-run create with strict field validation: unknown or duplicate fields
        are refused, as are values the apiserver's validation refuses. Returns the object as the
        apiserver would store it (defaults filled in). When an object of that name already exists
        in the shared test cluster (the E2E agent harness applies deploy/agent's RBAC for real),
        a dry-run replace of it: the same validation, and the result is the submitted object
        alone, never merged with the existing one."""
        url = self.collection(doc, namespace)
        params = {"dryRun": "All", "fieldValidation": "Strict"}
        try:
            return self.rest.post(url, doc, params=params)
        except ApiError as e:
            if e.status != 409:
                raise
        name = doc["metadata"]["name"]
        current = self.rest.get(f"{url}/{name}")
        replacing = dict(doc, metadata=dict(doc["metadata"],
                                            resourceVersion=current["metadata"]["resourceVersion"]))
        return self.rest.put(f"{url}/{name}", replacing, params=params)

    def ensure(self, doc: dict, namespace: str | None = None) -> None:
        """Creates the object for real (replacing a CRD of the same name); CRDs are waited on
        until Established."""
        url = self.collection(doc, namespace)
        try:
            self.rest.post(url, doc, params={"fieldValidation": "Strict"})
        except ApiError as e:
            if e.status != 409:
                raise
            if doc["kind"] == "CustomResourceDefinition":
                current = self.rest.get(f"{url}/{doc['metadata']['name']}")
                doc = dict(doc, metadata=dict(doc["metadata"],
                                              resourceVersion=current["metadata"]["resourceVersion"]))
                self.rest.put(f"{url}/{doc['metadata']['name']}", doc)
        if doc["kind"] == "CustomResourceDefinition":
            self.wait_established(doc)

    def wait_established(self, crd: dict, timeout: float = 30) -> None:
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
        deadline = time.monotonic() + timeout
        while True:
            got = self.rest.get(path)
            if any(c["type"] == "Established" and c["status"] == "True"
                   for c in (got.get("status") or {}).get("conditions") or []):
                spec = crd["spec"]
                # discovery lags the condition a little: wait until the kind is served
                for _ in range(50):
                    try:
                        self.resource(f"{spec['group']}/{spec['versions'][0]['name']}",
                                      spec["names"]["kind"], refresh=True)
                        return
                    except (KeyError, ApiError):
                        time.sleep(0.1)
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {crd['metadata']['name']} not established: {got.get('status')}")
            time.sleep(0.1)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]
