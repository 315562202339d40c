"""A real kube-apiserver + etcd + kube-controller-manager for tests, driven by tests/cluster/*.

    c = Cluster.start()            # tests/cluster/up (builds the binaries if missing)
    c.rest.get("/api/v1/nodes")    # admin REST client (system:masters)
    c.restart_apiserver(); c.compact()
    c.stop()                       # tests/cluster/down

Cluster.from_env() attaches to a cluster someone else started (PODIAM_TEST_* variables, or the
DIR/env file `up` writes) without owning it: stop() then does nothing.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any, Iterator, Mapping

import requests

SCRIPTS = Path(__file__).resolve().parents[2] / "cluster"
PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager")


class ClusterError(RuntimeError):
    """A cluster script failed; the message carries its output (incl. server log tails)."""


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str):
        self.status = status
        self.body = body
        try:
            self.reason = json.loads(body).get("reason", "")
        except ValueError:
            self.reason = ""
        super().__init__(f"{method} {path}: HTTP {status} {body[:500]}")


def parse_env(text: str) -> dict[str, str]:
    """Parses the `export NAME=VALUE` lines printed by tests/cluster/up."""
    env = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


class Rest:
    """Minimal JSON REST client for the apiserver: a bearer token and the test CA."""

    def __init__(self, server: str, token: str, ca_file: str, timeout: float = 30):
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.ca_file = ca_file
        self.session = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE and proxy variables: requests lets them
        # override session.verify, and this machine sets them to the system bundle.
        self.session.trust_env = False
        self.session.verify = ca_file
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (),
    ) -> Any:
        """Sends one request; returns the decoded JSON (None for an empty body). Raises ApiError
        for a status >= 400 that is not in `ok`."""
        headers = {}
        data = None
        if body is not None:
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
            headers["Content-Type"] = content_type
        r = self.session.request(
            method, self.server + path, data=data, params=params, headers=headers,
            timeout=self.timeout, verify=self.ca_file,
        )
        if r.status_code >= 400 and r.status_code not in ok:
            raise ApiError(method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, patch_type: str = "merge", **kw: Any) -> Any:
        ct = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
            "apply": "application/apply-patch+yaml",
        }[patch_type]
        return self.request("PATCH", path, body, content_type=ct, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("DELETE", path, body, **kw)

    def stream(self, path: str, params: Mapping[str, Any], timeout: float) -> Iterator[dict]:
        """Yields the JSON lines of a watch. `timeout` bounds the whole request: it is sent as
        timeoutSeconds and used as the read timeout."""
        p = dict(params)
        p.setdefault("timeoutSeconds", max(1, int(timeout)))
        with self.session.get(
            self.server + path, params=p, stream=True, timeout=(self.timeout, timeout + 5),
            verify=self.ca_file,
        ) as r:
            if r.status_code >= 400:
                raise ApiError("GET", path, r.status_code, r.text)
            for line in r.iter_lines():
                if line:
                    yield json.loads(line)


class Cluster:
    def __init__(self, env: Mapping[str, str], owned: bool):
        self.env = dict(env)
        self.owned = owned
        self.dir = Path(env["PODIAM_TEST_CLUSTER_DIR"])
        self.server = env["PODIAM_TEST_APISERVER"]
        self.kubeconfig = env["PODIAM_TEST_KUBECONFIG"]
        self.admin_token = env["PODIAM_TEST_ADMIN_TOKEN"]
        self.ca_file = env["PODIAM_TEST_CA_FILE"]
        self.etcd = env["PODIAM_TEST_ETCD"]
        self.sa_issuer = env["PODIAM_TEST_SA_ISSUER"]
        self.rest = Rest(self.server, self.admin_token, self.ca_file)

    # --- life cycle ---
    @classmethod
    def start(cls, state_dir: str | os.PathLike | None = None, apiserver_args: tuple[str, ...] = (),
              timeout: float = 900, sa_issuer: str | None = None) -> "Cluster":
        """Runs tests/cluster/up. The timeout covers a cold build of the binaries as well.
        sa_issuer: the ServiceAccount token issuer (default: the apiserver's URL)."""
        cmd = [str(SCRIPTS / "up")]
        if sa_issuer is not None:
            cmd += ["--sa-issuer", sa_issuer]
        if state_dir is not None:
            cmd += ["--dir", str(state_dir)]
        cmd += [f"--apiserver-arg={a}" for a in apiserver_args]
        out = _run(cmd, timeout)
        return cls(parse_env(out), owned=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Cluster | None":
        """The cluster described by PODIAM_TEST_* variables (not owned), or None."""
        if "PODIAM_TEST_APISERVER" in environ and "PODIAM_TEST_CLUSTER_DIR" in environ:
            return cls(environ, owned=False)
        d = environ.get("PODIAM_TEST_CLUSTER_DIR")
        if d and (Path(d) / "env").is_file():
            return cls(parse_env((Path(d) / "env").read_text()), owned=False)
        return None

    def stop(self, keep: bool = False) -> None:
        if self.owned and self.dir.exists():
            _run([str(SCRIPTS / "down")] + (["--keep"] if keep else []) + [str(self.dir)], 60)

    # --- operations ---
    def restart_apiserver(self, hard: bool = False) -> None:
        """Stops kube-apiserver (TERM: graceful, closes watches; hard: SIGKILL, as a crash) and
        starts it again on the same port; returns once /readyz is ok. etcd keeps the data."""
        self.ctl("restart-apiserver", *(["--hard"] if hard else []))

    def stop_apiserver(self, hard: bool = False) -> None:
        self.ctl("stop-apiserver", *(["--hard"] if hard else []))

    def start_apiserver(self) -> None:
        self.ctl("start-apiserver")

    def compact(self) -> int:
        """Compacts etcd at its current revision; returns it. Watches from older
        resourceVersions then fail with 410 (see docs/test-environment.md on the watch cache)."""
        return int(self.ctl("compact").strip())

    def ctl(self, *args: str) -> str:
        return _run([str(SCRIPTS / "ctl"), *args, str(self.dir)], 120)

    def pids(self) -> dict[str, int | None]:
        """PIDs of the processes `up` started (None when stopped)."""
        out = {}
        for line in self.ctl("status").splitlines():
            name, pid = line.split()
            out[name] = int(pid) if pid.isdigit() else None
        return out

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            text = (self.dir / f"{name}.log").read_text(errors="replace")
        except OSError as e:
            return f"({e})"
        return "\n".join(text.splitlines()[-lines:])

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- {n}.log (last {lines} lines) -----\n{self.log_tail(n, lines)}" for n in PROCESSES
        )

    def environ(self) -> dict[str, str]:
        """The PODIAM_TEST_* variables, for subprocesses."""
        return dict(self.env)


def _run(cmd: list[str], timeout: float) -> str:
    p = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.terminate()  # TERM, not KILL: `up` then stops what it started
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        raise ClusterError(f"{' '.join(cmd)} timed out after {timeout} s\n{err}{out}") from None
    if p.returncode != 0:
        raise ClusterError(f"{' '.join(cmd)} exited {p.returncode}\n{err}{out}")
    return out
