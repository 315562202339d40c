"""Self-tests of the harness: the counting STS proxy and the TCP relays answer a client that
reuses one keep-alive connection as quickly as one that opens a new connection per request.

A server that writes its header block and its body in two writes, with Nagle's algorithm on,
holds the body until the client ACKs the header block; on a reused connection the client's
delayed ACK makes that ~40 ms per request (a fresh connection is still in quick-ACK mode and does
not pay it). podiam's STS client reuses connections, so a stall here would show up as STS time
in every agent measurement. The bound is generous: a mean under 20 ms per request, or, on a
machine so loaded that moto itself is slow, under the mean of the same requests on new
connections + 20 ms; the stall costs about 40 ms per request on top of that.
"""

import http.client
import time
from urllib.parse import urlencode, urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from podiam_testenv.netns import Relay

pytestmark = pytest.mark.harness

REQUESTS = 20
MEAN_BOUND_MS = 20.0


def _signed_assume_role(host: str, i: int) -> tuple[bytes, dict]:
    body = urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                      "RoleArn": "arn:aws:iam::123456789012:role/harness-keepalive",
                      "RoleSessionName": f"keepalive-{i}", "DurationSeconds": "3600"}).encode()
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=f"http://{host}/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    creds = botocore.credentials.Credentials("AKIAIOSFODNN7EXAMPLE", "secret")
    botocore.auth.SigV4Auth(creds, "sts", "us-east-1").add_auth(req)
    return body, dict(req.headers.items())


def _mean_ms(endpoint: str, keep_alive: bool = True) -> tuple[float, list[float]]:
    """Mean ms per AssumeRole over one keep-alive connection (or a new connection each)."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    times, sock = [], None
    try:
        for i in range(REQUESTS):
            if not keep_alive:
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
                sock = None
            body, headers = _signed_assume_role(url.netloc, i)
            t0 = time.perf_counter()
            conn.request("POST", "/", body=body, headers=headers)  # headers + body: one send
            resp = conn.getresponse()
            data = resp.read()
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status == 200, data[:300]
            assert b"<AccessKeyId>" in data
            assert sock is None or conn.sock is sock, "the connection was not kept alive"
            sock = conn.sock
    finally:
        conn.close()
    return sum(times) / len(times), times


def _check(endpoint: str) -> None:
    _mean_ms(endpoint)  # warm-up: moto's first AssumeRole is slower
    mean, times = _mean_ms(endpoint)
    if mean < MEAN_BOUND_MS:
        return
    fresh, _ = _mean_ms(endpoint, keep_alive=False)
    assert mean < fresh + MEAN_BOUND_MS, (
        f"mean {mean:.1f} ms per request on one connection, {fresh:.1f} ms on new connections; "
        f"each: {[round(t) for t in times]}")


def test_proxy_answers_keepalive_requests_without_a_nagle_stall(sts):
    _check(sts.endpoint)
    assert sts.counts("AssumeRole") >= 2 * REQUESTS


def test_relay_in_front_of_the_proxy_adds_no_stall(sts):
    relay = Relay((sts.host, sts.port), "127.0.0.1")
    try:
        _check(relay.url)
    finally:
        relay.close()
