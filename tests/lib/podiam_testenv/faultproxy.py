"""A counting, fault-injecting reverse proxy for STS (in front of moto).

Every request is counted by its STS `Action` (form body or query string) and may be answered with
an injected fault instead of being forwarded. Control it from Python (`FaultProxy` methods) or over
HTTP, on the proxy port and on a separate control port that stays up while the proxy is "down":

    GET  /__proxy/stats   {"counts": {"AssumeRole": 2}, "faulted": {...}, "total": 2,
                           "faults": [...], "down": false, "requests": [{"action", "params", ...}],
                           "issued": 2}
    POST /__proxy/fault   {"kind": "throttling", "action": "AssumeRole", "count": 2, "delay": 0.5}
    POST /__proxy/clear   remove all faults (and bring the proxy back up)
    POST /__proxy/reset   zero the counts and forget recorded requests

Fault kinds (`action` None = every action; `count` None = until cleared; `delay` seconds first):
    throttling     400 Throttling "Rate exceeded" (STS XML error shape)
    internal       500 InternalFailure
    unavailable    503 ServiceUnavailable
    access_denied  403 AccessDenied
    error          any `status`, `code`, `message`, `type`
    delay          wait `delay` seconds, then forward normally
    reset          read the request, then reset the TCP connection (RST)
    down           close the listening socket (connection refused) and drop open connections,
                   for `duration` seconds or until cleared; no action filter
    expire_in      forward, then rewrite <Expiration> of the credentials in a successful answer
                   to now + `seconds` (whole seconds, "Z"), as a short role session or a node
                   clock running ahead would make them look; e.g. `seconds=15*60+20`

Credentials in successful answers that carry them (AssumeRole*, GetSessionToken, ...) are
recorded as issued: `issued(access_key_id)` says which RoleArn/RoleSessionName they were for and
the Expiration the client was given (after any rewrite), so a test can check whom a key it was
served belongs to and how long it was valid. Secrets are never recorded.
Run standalone: python -m podiam_testenv.faultproxy --upstream http://127.0.0.1:5000 [--port N]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import re
import socket
import struct
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

from . import netns as nsmod

STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

PRESETS = {  # kind: (HTTP status, Type, Code, Message)
    "throttling": (400, "Sender", "Throttling", "Rate exceeded"),
    "internal": (500, "Receiver", "InternalFailure",
                 "The request processing has failed because of an unknown error, exception or failure."),
    "unavailable": (503, "Receiver", "ServiceUnavailable", "Service Unavailable"),
    "access_denied": (403, "Sender", "AccessDenied", None),  # message built from the request
}
KINDS = set(PRESETS) | {"error", "delay", "reset", "down", "expire_in"}
FORWARDING = {"delay", "expire_in"}  # kinds that forward the request (after delay / rewriting)
ISSUED_MAX = 20000  # issued credentials remembered (oldest forgotten first)
_EXPIRATION_RE = re.compile(rb"<Expiration>[^<]*</Expiration>")
_ACCESS_KEY_RE = re.compile(rb"<AccessKeyId>([^<]*)</AccessKeyId>")
_CREDENTIAL_RE = re.compile(r"\bCredential=([^/,\s]+)/")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "content-length", "server", "date"}


def sts_error_xml(code: str, message: str, type_: str = "Sender", request_id: str | None = None) -> bytes:
    """The STS query-protocol error document (docs/protocols.md#sts-errors)."""
    request_id = request_id or str(uuid.uuid4())
    return (f'<ErrorResponse xmlns="{STS_XMLNS}">\n'
            f"  <Error><Type>{type_}</Type><Code>{code}</Code><Message>{message}</Message></Error>\n"
            f"  <RequestId>{request_id}</RequestId>\n"
            f"</ErrorResponse>\n").encode()


class Fault:
    def __init__(self, kind: str, action: str | None = None, count: int | None = None,
                 delay: float = 0.0, duration: float | None = None, status: int | None = None,
                 code: str | None = None, message: str | None = None, type: str = "Sender",
                 seconds: float | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        if kind == "down" and (action or count):
            raise ValueError("a 'down' fault takes no action or count (use 'reset' for those)")
        if kind == "error" and not (status and code):
            raise ValueError("an 'error' fault needs status and code")
        if (kind == "expire_in") != (seconds is not None):
            raise ValueError("'seconds' goes with (and only with) an 'expire_in' fault")
        self.kind, self.action, self.remaining, self.delay = kind, action, count, float(delay or 0)
        self.duration = duration
        self.status, self.code, self.message, self.type = status, code, message, type
        self.seconds = None if seconds is None else float(seconds)

    def response(self, action: str, params: dict) -> tuple[int, bytes]:
        if self.kind == "error":
            status, type_, code, message = self.status, self.type, self.code, self.message or self.code
        else:
            status, type_, code, message = PRESETS[self.kind]
        if message is None:  # access_denied
            message = ("User: arn:aws:sts::123456789012:assumed-role/node/i-0 "
                       f"is not authorized to perform: sts:{action} on resource: "
                       f"{params.get('RoleArn', '*')}")
        return status, sts_error_xml(code, message, type_)

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "action": self.action, "count": self.remaining, "delay": self.delay}
        if self.kind == "error":
            d.update(status=self.status, code=self.code, message=self.message)
        if self.kind == "expire_in":
            d["seconds"] = self.seconds
        return d

    def rewrite(self, body: bytes) -> bytes:
        """An 'expire_in' fault's change to a successful answer: every <Expiration> becomes
        now + seconds."""
        if self.kind != "expire_in":
            return body
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.seconds))
        return _EXPIRATION_RE.sub(f"<Expiration>{stamp}</Expiration>".encode(), body)


def _signing_key_id(headers) -> str | None:
    """The access key id a SigV4-signed request was signed with (the Authorization header's
    `Credential=<key id>/<date>/<region>/<service>/aws4_request`); None if unsigned. Only the
    key id, never the signature."""
    match = _CREDENTIAL_RE.search(headers.get("Authorization") or "")
    return match.group(1) if match else None


def _request_action(path: str, body: bytes) -> tuple[str, dict]:
    # Blank values are kept: an empty tag value is a parameter the client sent.
    params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    try:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        pass
    return params.get("Action", ""), params


class _Handler(nsmod.HttpHandler):  # one write per response, TCP_NODELAY (see HttpHandler)
    server_version = "podiam-faultproxy"
    control_only = False

    def log_message(self, fmt, *args):  # keep pytest output clean; the proxy keeps its own log
        pass

    def setup(self):  # data connections are tracked so that 'down' can drop them
        super().setup()
        if not self.control_only:
            self.server.owner._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            if not self.control_only:
                self.server.owner._track(self.connection, False)

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type="text/xml", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        proxy: FaultProxy = self.server.owner
        body = self._body()
        if self.path.startswith("/__proxy/"):
            status, payload = proxy._control(self.command, self.path, body)
            return self._send(status, json.dumps(payload).encode(), "application/json")
        if self.control_only:
            return self._send(404, b"control port: only /__proxy/ paths\n", "text/plain")
        action, params = _request_action(self.path, body)
        fault = proxy._on_request(action, params, _signing_key_id(self.headers))
        if proxy.is_down or (fault and fault.kind == "reset"):
            return self._reset()
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.kind not in FORWARDING | {"reset"}:
            status, xml = fault.response(action, params)
            proxy._log(f"{action or '-'} -> injected {fault.kind} {status}")
            return self._send(status, xml, headers=[("x-amzn-RequestId", str(uuid.uuid4()))])
        self._forward(proxy, action, params, body, fault)

    def _forward(self, proxy: FaultProxy, action: str, params: dict, body: bytes,
                 fault: Fault | None = None):
        conn = proxy._upstream_connection()
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            proxy._log(f"{action or '-'} -> upstream error {e}")
            return self._send(502, f"podiam-faultproxy: upstream {proxy.upstream}: {e}\n".encode(),
                              "text/plain")
        finally:
            conn.close()
        if resp.status == 200 and b"<Credentials>" in data:
            if fault is not None:
                data = fault.rewrite(data)
            proxy._record_issued(action, params, data)
        proxy._log(f"{action or '-'} -> {resp.status}" + (f" ({fault.kind})" if fault else ""))
        self._send(resp.status, data, resp.getheader("Content-Type", "text/xml"),
                   [(k, v) for k, v in resp.getheaders()
                    if k.lower() not in HOP_BY_HOP | {"content-type"}])

    def _reset(self):
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.owner._log("connection reset (injected)")
        self.connection.close()


class _ControlHandler(_Handler):
    control_only = True


class _NetnsHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, netns, timeout):
        super().__init__(host, port, timeout=timeout)
        self._netns = netns

    def connect(self):
        self.sock = nsmod.connect(self.host, self.port, self._netns, self.timeout)


class FaultProxy:
    """Listens on host:port in `netns` and forwards to `upstream`, connecting in `upstream_netns`.

    None means the test process's own namespace. E.g. netns=node.name, host=NODE_IP with the
    session moto as upstream puts a proxy in the node in front of moto on the host's loopback.
    """

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0,
                 control_port: int | None = 0, netns: str | None = None,
                 upstream_netns: str | None = None, upstream_timeout: float = 30):
        self.upstream, self.netns, self.upstream_timeout = upstream, netns, upstream_timeout
        self.upstream_netns = upstream_netns
        up = urlsplit(upstream)
        self._up_host, self._up_port = up.hostname, up.port or 80
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._counts: collections.Counter = collections.Counter()
        self._faulted: collections.Counter = collections.Counter()
        self._requests: collections.deque = collections.deque(maxlen=500)
        self._issued: collections.OrderedDict = collections.OrderedDict()
        self._logs: collections.deque = collections.deque(maxlen=500)
        self._conns: set = set()
        self._down_timer: threading.Timer | None = None
        self._server = self._listen(host, port, control_only=False)
        self.host, self.port = self._server.host, self._server.port
        self._control_server = (self._listen(host, control_port, control_only=True)
                                if control_port is not None else None)

    def _listen(self, host, port, control_only) -> nsmod.HttpServer:
        handler = _ControlHandler if control_only else _Handler
        return nsmod.HttpServer(handler, host, port, self.netns, owner=self)

    # -- addresses -----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        """Base URL of the control API (.../stats, .../fault, ...) that survives 'down'."""
        srv = self._control_server
        return f"http://{self.host}:{srv.port if srv else self.port}/__proxy"

    # -- Python API ----------------------------------------------------------------------------
    def fault(self, kind: str, action: str | None = None, count: int | None = None,
              delay: float = 0.0, duration: float | None = None, **error) -> None:
        """Inject a fault (see module doc). Faults are matched in the order they were added."""
        f = Fault(kind, action, count, delay, duration, **error)
        if kind == "down":
            self._go_down(duration)
            return
        with self._lock:
            self._faults.append(f)
        self._log(f"fault added: {f.as_dict()}")

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
        self._go_up()

    def counts(self, action: str | None = None):
        """Requests received per Action (faulted ones included); one action's count if given."""
        with self._lock:
            return self._counts[action] if action else dict(self._counts)

    def faulted(self) -> dict:
        with self._lock:
            return dict(self._faulted)

    def requests(self, action: str | None = None) -> list[dict]:
        """Recorded requests (newest last): {"action", "params", "time", "fault", "key_id"}
        (key_id: the access key id of the request's SigV4 signature, None if unsigned)."""
        with self._lock:
            return [r for r in self._requests if action is None or r["action"] == action]

    def issued(self, access_key_id: str | None = None):
        """Credentials this proxy passed on, by AccessKeyId: {"action", "role_arn", "session",
        "expiration" (as the client got it), "time"}. One key's record (None if unknown) if
        given, else all of them."""
        with self._lock:
            if access_key_id is not None:
                rec = self._issued.get(access_key_id)
                return dict(rec) if rec else None
            return {k: dict(v) for k, v in self._issued.items()}

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._faulted.clear()
            self._requests.clear()
            self._issued.clear()

    def stats(self) -> dict:
        with self._lock:
            return {"counts": dict(self._counts), "faulted": dict(self._faulted),
                    "total": sum(self._counts.values()), "down": self.is_down,
                    "faults": [f.as_dict() for f in self._faults],
                    "requests": list(self._requests)[-100:], "issued": len(self._issued)}

    @property
    def is_down(self) -> bool:
        return self._server is None

    def log_tail(self, lines: int = 40) -> str:
        with self._lock:
            return "\n".join(list(self._logs)[-lines:])

    def close(self) -> None:
        if self._down_timer:
            self._down_timer.cancel()
        for srv in (self._server, self._control_server):
            if srv:
                srv.close()
        self._server = self._control_server = None
        self._drop_connections()

    stop = close

    def __repr__(self):
        return f"FaultProxy({self.endpoint} -> {self.upstream})"

    # -- internals -----------------------------------------------------------------------------
    def _log(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        with self._lock:
            self._logs.append(f"{stamp} {line}")

    def _track(self, conn, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _drop_connections(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _go_down(self, duration: float | None) -> None:
        with self._lock:
            srv, self._server = self._server, None
            if self._down_timer:
                self._down_timer.cancel()
            self._down_timer = threading.Timer(duration, self._go_up) if duration else None
        if srv:
            srv.close()
        self._drop_connections()
        self._log("down (connection refused) " + (f"for {duration} s" if duration else "until cleared"))
        if self._down_timer:
            self._down_timer.daemon = True
            self._down_timer.start()

    def _go_up(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            if self._down_timer:
                self._down_timer.cancel()
                self._down_timer = None
        srv = self._listen(self.host, self.port, control_only=False)
        with self._lock:
            self._server = srv
        self._log("up")

    def _on_request(self, action: str, params: dict, key_id: str | None = None) -> Fault | None:
        with self._lock:
            self._counts[action or "(none)"] += 1
            fault = next((f for f in self._faults if f.action in (None, action)), None)
            if fault:
                self._faulted[action or "(none)"] += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
            self._requests.append({"action": action, "params": params, "time": time.time(),
                                   "fault": fault.kind if fault else None, "key_id": key_id})
            return fault

    def _record_issued(self, action: str, params: dict, data: bytes) -> None:
        key = _ACCESS_KEY_RE.search(data)
        if not key:
            return
        expiration = _EXPIRATION_RE.search(data)
        rec = {"action": action, "role_arn": params.get("RoleArn"),
               "session": params.get("RoleSessionName"), "time": time.time(),
               "expiration": (expiration.group(0)[len(b"<Expiration>"):-len(b"</Expiration>")]
                              .decode() if expiration else None)}
        with self._lock:
            self._issued[key.group(1).decode()] = rec
            while len(self._issued) > ISSUED_MAX:
                self._issued.popitem(last=False)

    def _upstream_connection(self) -> http.client.HTTPConnection:
        return _NetnsHTTPConnection(self._up_host, self._up_port, self.upstream_netns,
                                    self.upstream_timeout)

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        route = urlsplit(path).path.rstrip("/").removeprefix("/__proxy/")
        try:
            if method == "GET" and route == "stats":
                return 200, self.stats()
            if method == "POST" and route == "fault":
                spec = json.loads(body or b"{}")
                self.fault(spec.pop("kind", ""), **spec)
                return 200, {"ok": True}
            if method == "POST" and route == "clear":
                self.clear_faults()
                return 200, {"ok": True}
            if method == "POST" and route == "reset":
                self.reset_counts()
                return 200, {"ok": True}
        except (ValueError, TypeError) as e:
            return 400, {"error": str(e)}
        return 404, {"error": f"unknown control request {method} {path}"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="counting, fault-injecting STS proxy")
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000 (moto)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    args = ap.parse_args(argv)
    proxy = FaultProxy(args.upstream, args.host, args.port, args.control_port)
    print(json.dumps({"endpoint": proxy.endpoint, "control": proxy.control_url}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.close()


if __name__ == "__main__":
    main()
