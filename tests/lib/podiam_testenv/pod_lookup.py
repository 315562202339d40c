"""Credential lookups the way an SDK makes them, from inside a pod's network namespace, and
polling on them: shared by the e2e fault and soak tests (tests/e2e/test_agent_faults.py,
tests/e2e/test_agent_soak.py).

Requests are made from the test process itself, on sockets living in the pods' network namespaces
(`Pod.connect`), through the agent's own DNAT rule, so several pods can be polled continuously.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import threading
import time

from podiam_testenv.imds_client import CREDS, NODE_SECRETS
from podiam_testenv.netns import IMDS_IP

NODE_KEY, NODE_SECRET = NODE_SECRETS  # the agent's own identity (podiam_testenv.agent)
# The broker never serves credentials with less left (docs/protocols.md#sdk-expiry-rules).
MIN_REMAINING = 15 * 60


class _PodConnection(http.client.HTTPConnection):
    def __init__(self, pod, timeout: float):
        super().__init__(IMDS_IP, 80, timeout=timeout)
        self._pod = pod

    def connect(self):
        self.sock = self._pod.connect(self.host, self.port, self.timeout)


@dataclasses.dataclass
class Answer:
    """One credentials lookup as an SDK does it: the role list, then that role's credentials."""
    start: float  # time.time() when it began
    end: float
    status: int  # HTTP status of the last request made; 0 = no HTTP answer (refused, reset, ...)
    role: str | None = None  # what the role list said (None if it was refused)
    key: str | None = None  # AccessKeyId when status == 200
    expiration: float | None = None  # its Expiration (epoch seconds)
    body: str = ""
    leak: bool = False  # the node's own key or secret appeared anywhere

    @property
    def elapsed(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.key is not None


def _get(pod, path: str, timeout: float) -> tuple[int, str]:
    conn = _PodConnection(pod, timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def lookup(pod, role: str | None = None, timeout: float = 5.0) -> Answer:
    """Credentials for `role`, or for whatever role the role list names (as SDKs do)."""
    start = time.time()
    bodies = []
    status = 200
    if role is None:
        status, body = _get(pod, CREDS, timeout)
        bodies.append(body)
        role = body.strip() if status == 200 else None
    answer = Answer(start, start, status, role)
    if role is not None:
        status, body = _get(pod, CREDS + role, timeout)
        bodies.append(body)
        answer.status = status
        if status == 200:
            creds = json.loads(body)
            answer.key = creds["AccessKeyId"]
            answer.expiration = parse_time(creds["Expiration"])
    answer.end = time.time()
    answer.body = bodies[-1][:300]
    answer.leak = any(NODE_KEY in b or NODE_SECRET in b for b in bodies)
    return answer


def parse_time(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc).timestamp()


class Poller:
    """Looks up credentials from one pod in a loop on a thread, keeping every Answer."""

    def __init__(self, pod, role: str | None = None, interval: float = 0.1, timeout: float = 5.0):
        self.pod, self.role, self.interval, self.timeout = pod, role, interval, timeout
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{pod.name}", daemon=True)

    def start(self) -> "Poller":
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            a = lookup(self.pod, self.role, self.timeout)
            with self._lock:
                self._answers.append(a)
            self._stop.wait(self.interval)

    def answers(self, since: float = 0.0) -> list[Answer]:
        """Answers to lookups that began at or after `since` (time.time())."""
        with self._lock:
            return [a for a in self._answers if a.start >= since]

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(30)
        return self.answers()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


def wait_ok(pod, role: str | None = None, timeout: float = 60) -> Answer:
    """Polls until the pod is served credentials (the answer), failing with the last refusal."""
    last: list[Answer] = []

    def served():
        a = lookup(pod, role)
        last[:] = [a]
        return a if a.ok else None

    try:
        return wait_for(served, timeout, f"credentials for {pod}", interval=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}; last answer: {last[0] if last else None}") from None


def session_of(obj) -> str:
    return f"{obj['metadata']['namespace']}.{obj['metadata']['name']}"
