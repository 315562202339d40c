"""A tiny EC2 metadata (IMDS) stub serving one role's credentials, for harness tests.

Follows docs/protocols.md#imds-wire-protocol: role list without trailing newline, paths with and without trailing
slash, token TTL header echoed, `security-credentials-extended` answered 404, `Code: Success` and
`Expiration` as YYYY-MM-DDTHH:MM:SSZ.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading

from .netns import HttpHandler

CREDS_PATH = "/latest/meta-data/iam/security-credentials"


def imds_time(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImdsStub:
    """State of the stub; serve it with `node.serve_http(ImdsStub.Handler, owner=stub)`."""

    def __init__(self, role: str = "stub-role", credentials: dict | None = None,
                 require_token: bool = True, region: str = "us-east-1"):
        self.role, self.require_token, self.region = role, require_token, region
        self.tokens: set[str] = set()
        self.requests: list[dict] = []  # {"method", "path", "token"}
        self._lock = threading.Lock()
        self.set_credentials(credentials or {
            "AccessKeyId": "ASIASTUBSTUBSTUBSTUB",
            "SecretAccessKey": "stub/secret/key/stub/secret/key/stubstub",
            "SessionToken": "stub-session-token",
            "Expiration": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)})

    def set_credentials(self, creds: dict) -> None:
        """Accepts boto3's Credentials dict (Expiration a datetime) or strings."""
        expiration = creds["Expiration"]
        if isinstance(expiration, dt.datetime):
            expiration = imds_time(expiration)
        self.credentials = {
            "Code": "Success",
            "LastUpdated": imds_time(dt.datetime.now(dt.timezone.utc)),
            "Type": "AWS-HMAC",
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["SessionToken"],
            "Expiration": expiration,
        }

    def paths_requested(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [r["path"] for r in self.requests if method in (None, r["method"])]

    class Handler(HttpHandler):  # one write per response (see netns.HttpHandler)

        def log_message(self, fmt, *args):
            pass

        def _reply(self, status: int, body: str = "", headers=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self):
            stub: ImdsStub = self.server.owner
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._record(stub)
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if self.path.rstrip("/") != "/latest/api/token" or not ttl:
                return self._reply(400 if ttl is None else 404)
            token = secrets.token_urlsafe(32)
            with stub._lock:
                stub.tokens.add(token)
            self._reply(200, token, [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

        def do_GET(self):
            stub: ImdsStub = self.server.owner
            token = self._record(stub)
            if stub.require_token and token not in stub.tokens:
                return self._reply(401)
            path = self.path.rstrip("/")
            if path == CREDS_PATH:
                return self._reply(200, stub.role)  # no trailing newline
            if path == f"{CREDS_PATH}/{stub.role}":
                return self._reply(200, json.dumps(stub.credentials))
            if path == "/latest/meta-data/placement/availability-zone":
                return self._reply(200, stub.region + "a")
            if path == "/latest/meta-data/placement/region":
                return self._reply(200, stub.region)
            self._reply(404)  # includes security-credentials-extended

        def _record(self, stub) -> str | None:
            token = self.headers.get("X-aws-ec2-metadata-token")
            with stub._lock:
                stub.requests.append({"method": self.command, "path": self.path, "token": token})
            return token
