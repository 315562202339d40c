"""A moto server process (STS + IAM emulation) and helpers to drive it.

`MotoServer(host, port, netns=None)` runs the venv's `moto_server`, optionally inside a network
namespace (`ip netns exec`). For a server inside a namespace the test process also gets a loopback
relay (`admin_endpoint`) so the helpers below work the same for both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import urllib.request
from collections import deque
from pathlib import Path

from . import netns as nsmod
from . import paths

TEST_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"  # any keys work: moto does not check signatures by default
TEST_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DEFAULT_ACCOUNT = "123456789012"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, netns: str | None = None):
        self.host, self.netns = host, netns
        self._auto_port = port is None and netns is None
        self.port = port or (free_port(host) if netns is None else 5000)
        self.proc: subprocess.Popen | None = None
        self._relay: nsmod.Relay | None = None
        self._logdir = tempfile.mkdtemp(prefix="pdm-moto-")
        self.log_path = Path(self._logdir) / "moto.log"

    @property
    def endpoint(self) -> str:
        """URL where moto listens (inside `netns` if given)."""
        return f"http://{self.host}:{self.port}"

    @property
    def admin_endpoint(self) -> str:
        """URL the test process uses: endpoint, or a loopback relay into the namespace."""
        return self._relay.url if self._relay else self.endpoint

    def start(self, timeout: float = 30.0) -> MotoServer:
        for attempt in range(3):  # a free port can be taken before moto binds it
            try:
                return self._start(timeout)
            except RuntimeError:
                if not self._auto_port or attempt == 2:
                    raise
                self.port = free_port(self.host)
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> MotoServer:
        cmd = [str(paths.MOTO_SERVER), "-H", self.host, "-p", str(self.port)]
        if self.netns:
            cmd = [paths.tool("ip"), "netns", "exec", self.netns, *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            nsmod.wait_for_port(self.host, self.port, self.netns, timeout,
                                alive=lambda: self.proc.poll() is None)
        except Exception as e:
            self.stop()
            raise RuntimeError(f"moto did not start: {e}\n{self.log_tail()}") from e
        if self.netns:
            self._relay = nsmod.Relay((self.host, self.port), "127.0.0.1", 0, target_netns=self.netns)
        return self

    def stop(self) -> None:
        if self._relay:
            self._relay.close()
            self._relay = None
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    close = stop

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(deque(f, lines))
        except FileNotFoundError:
            return "(no moto log)"

    def __repr__(self):
        return f"MotoServer({self.endpoint}, netns={self.netns})"

    # -- state ---------------------------------------------------------------------------------
    def _post(self, path: str, body: bytes = b"") -> dict:
        req = urllib.request.Request(self.admin_endpoint + path, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip().startswith("{") else {}

    def reset(self) -> None:
        """Wipe all moto state (roles, keys, ...)."""
        self._post("/moto-api/reset")

    def set_auth(self, enabled: bool) -> None:
        """Switch moto's IAM/SigV4 checking on or off (off by default). Keep it off for IRSA."""
        self._post("/moto-api/reset-auth", b"0" if enabled else b"inf")

    # -- boto3 helpers -------------------------------------------------------------------------
    def client(self, service: str, account_id: str | None = None, region: str = "us-east-1",
               access_key: str = TEST_ACCESS_KEY, secret_key: str = TEST_SECRET_KEY,
               session_token: str | None = None):
        """A boto3 client for this moto (explicit test keys; ambient AWS_* env is ignored).

        account_id selects the moto account via the x-moto-account-id header.
        """
        import boto3
        import botocore.config
        client = boto3.session.Session().client(
            service, region_name=region, endpoint_url=self.admin_endpoint,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            config=botocore.config.Config(retries={"total_max_attempts": 1}))
        if account_id:
            def add_account(request, **_):
                request.headers["x-moto-account-id"] = account_id
            client.meta.events.register("before-sign.*.*", add_account)
        return client

    def create_role(self, name: str, path: str = "/", account_id: str | None = None,
                    max_session_duration: int = 3600, trust_policy: dict | None = None) -> str:
        """Create an IAM role and return its ARN."""
        account = account_id or DEFAULT_ACCOUNT
        trust_policy = trust_policy or {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
        iam = self.client("iam", account_id=account_id)
        role = iam.create_role(RoleName=name, Path=path, MaxSessionDuration=max_session_duration,
                               AssumeRolePolicyDocument=json.dumps(trust_policy))
        return role["Role"]["Arn"]

    def assume_role(self, role_arn: str, session_name: str, duration: int = 3600) -> dict:
        """AssumeRole directly on moto; returns the Credentials dict (Expiration is a datetime)."""
        resp = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name,
                                              DurationSeconds=duration)
        return resp["Credentials"]

    def caller_identity(self, credentials: dict) -> dict:
        sts = self.client("sts", access_key=credentials["AccessKeyId"],
                          secret_key=credentials["SecretAccessKey"],
                          session_token=credentials.get("SessionToken"))
        resp = sts.get_caller_identity()
        return {k: resp[k] for k in ("UserId", "Account", "Arn")}
