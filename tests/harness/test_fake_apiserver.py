"""Self-tests of bench/fake_apiserver.py, the etcd-free apiserver the server scale benchmark
(bench/server_bench.py) points a real `podiam server` at: its paged lists (limit/continue), its
direct reads, its chunked watch with MODIFIED events and its refusals. The benchmark itself is not
run in CI."""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit

import pytest
from podiam_testenv import paths

sys.path.insert(0, str(paths.REPO / "bench"))
import fake_apiserver as fake  # noqa: E402 - bench/ is not a package

pytestmark = pytest.mark.harness

SHAPE = fake.ClusterShape(pods=1_200, nodes=10, namespaces=7, roles=5)


@pytest.fixture(scope="module")
def api():
    server = fake.FakeApiserver(SHAPE).start()
    yield server
    server.stop()


def conn(api) -> http.client.HTTPConnection:
    u = urlsplit(api.url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def get(api, path: str) -> tuple[int, dict]:
    c = conn(api)
    c.request("GET", path, headers={"Accept": "application/json"})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return r.status, body


def test_pod_list_pages_with_continue(api):
    names, pages, rvs = [], 0, set()
    token = ""
    while True:
        status, body = get(api, f"/api/v1/pods?limit=500&continue={token}")
        assert status == 200 and body["kind"] == "PodList"
        pages += 1
        rvs.add(body["metadata"]["resourceVersion"])
        names += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]]
        token = body["metadata"].get("continue", "")
        if not token:
            assert "remainingItemCount" not in body["metadata"]
            break
        assert body["metadata"]["remainingItemCount"] == SHAPE.pods - len(names)
    assert pages == 3 and len(names) == len(set(names)) == SHAPE.pods
    assert len(rvs) == 1, "every page of one list has the list's resourceVersion"
    # Without a limit: everything at once.
    status, body = get(api, "/api/v1/pods")
    assert len(body["items"]) == SHAPE.pods and "continue" not in body["metadata"]


def test_pods_have_the_documented_shape(api):
    _, body = get(api, "/api/v1/pods?limit=100")
    pods = body["items"]
    assert all(len(p["spec"]["containers"]) == 2 for p in pods)
    assert all(p["status"]["podIP"] and len(p["status"]["conditions"]) == 5 for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    with_role = [p for p in pods if fake.ROLE_KEY in p["metadata"]["annotations"]]
    assert 15 <= len(with_role) <= 45, "about 30 % of the pods carry a role"
    size = len(json.dumps(pods[0], separators=(",", ":")))
    assert 4_500 < size < 6_000
    _, nss = get(api, "/api/v1/namespaces")
    _, sas = get(api, "/api/v1/serviceaccounts?limit=3")
    assert len(nss["items"]) == SHAPE.namespaces and len(sas["items"]) == 3
    assert sas["metadata"]["continue"]


def test_direct_reads(api):
    status, pod = get(api, "/api/v1/namespaces/ns-0003/pods/app-10")
    assert status == 200 and pod["metadata"]["uid"] == fake.pod_uid(10)
    assert get(api, "/api/v1/namespaces/ns-0004/pods/app-10")[0] == 404
    assert get(api, "/api/v1/namespaces/ns-0001")[0] == 200
    assert get(api, "/api/v1/namespaces/ns-0001/serviceaccounts/default")[0] == 200
    status, body = get(api, "/api/v1/nodes")
    assert status == 404 and body["kind"] == "Status"


def test_selectors_and_bad_continue_are_refused(api):
    assert get(api, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-00001")[0] == 400
    assert get(api, "/api/v1/pods?limit=5&continue=%%%")[0] == 400


def test_watch_streams_modified_events_and_ends_at_its_timeout(api):
    c = conn(api)
    c.request("GET", "/api/v1/pods?watch=1&timeoutSeconds=2&resourceVersion=1000")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    deadline = time.monotonic() + 5
    while not api.collections["pods"].watchers and time.monotonic() < deadline:
        time.sleep(0.01)
    api.modify_pod(42)
    event = json.loads(r.readline())
    assert event["type"] == "MODIFIED"
    assert event["object"]["metadata"]["name"] == "app-42"
    assert int(event["object"]["metadata"]["resourceVersion"]) > 1000
    t = time.monotonic()
    assert r.read() == b""  # the stream ends (chunked terminator) at timeoutSeconds
    assert time.monotonic() - t < 4
    c.close()


def test_token_reviews_are_never_authenticated_and_events_are_accepted(api):
    c = conn(api)
    c.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
              body=json.dumps({"spec": {"token": "x"}}))
    r = c.getresponse()
    assert r.status == 201 and json.loads(r.read())["status"]["authenticated"] is False
    c.request("POST", "/api/v1/namespaces/ns-0001/events", body=b'{"reason":"x"}')
    r = c.getresponse()
    assert r.status == 201 and r.read() == b'{"reason":"x"}'
    c.close()
