"""A real Vault server for the Vault credential-source tests (docs/vault.md): the binary that
tests/vault/build.sh builds into the cache, in dev mode on host loopback (in-memory storage,
unsealed, a known root token), plus the API calls the tests make with the root token.

    server = VaultServer.start()            # raises VaultMissing when the binary is not built
    server.api("POST", "sys/mounts/aws", {"type": "aws"})
    server.seal(); server.unseal()
    server.stop()
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from . import paths
from .agent import stop_group
from .moto import free_port

ROOT_TOKEN = "podiam-test-root"


class VaultMissing(RuntimeError):
    pass


def vault_binary() -> Path:
    r = subprocess.run([str(paths.REPO / "tests" / "vault" / "build.sh"), "--print"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0 or not r.stdout.strip():
        raise VaultMissing(r.stderr.strip() or "tests/vault/build.sh --print failed")
    return Path(r.stdout.strip())


class VaultServer:
    def __init__(self, binary: Path):
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="podiam-vault-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.dir / "vault.log"
        self.audit_path = self.dir / "audit.log"
        self.unseal_key = ""
        self.proc: subprocess.Popen | None = None

    @classmethod
    def start(cls, timeout: float = 60) -> "VaultServer":
        server = cls(vault_binary())
        server._start(timeout)
        return server

    def _start(self, timeout: float) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.dir),
               "VAULT_LOG_LEVEL": "info"}
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(self.binary), "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}",
             f"-dev-root-token-id={ROOT_TOKEN}", "-dev-no-store-token"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vault exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"vault not healthy after {timeout} s:\n{self.log_tail()}")
        match = re.search(r"Unseal Key: (\S+)", self.log_path.read_text(errors="replace"))
        self.unseal_key = match.group(1) if match else ""

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = ROOT_TOKEN,
            ok=(200, 204)) -> dict:
        headers = {"X-Vault-Token": token} if token else {}
        r = requests.request(method, f"{self.url}/v1/{path}", json=body, headers=headers, timeout=10)
        if ok and r.status_code not in ok:
            raise AssertionError(f"vault {method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else {}

    def seal(self) -> None:
        self.api("PUT", "sys/seal")

    def unseal(self) -> None:
        assert self.unseal_key, "no unseal key in the dev server's output"
        self.api("PUT", "sys/unseal", {"key": self.unseal_key}, token=None)

    def audit_text(self) -> str:
        return self.audit_path.read_text(errors="replace") if self.audit_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.log.close()
            self.proc = None
