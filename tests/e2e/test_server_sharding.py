"""`podiam server` replicas sharing the work (issue 17; docs/server.md "High availability and
sharding"): two replicas on loopback HTTPS, each with its own identity, Lease and peer URL, over
the real apiserver and moto behind the counting STS proxy; 200 pods (API objects only) with 20
roles, half on node A and half on node B, asked for through both replicas with pod-bound agent
tokens, as test_server.py does (podiam_testenv.server's Server and Setup).

Time-compressed: the proxy rewrites every AssumeRole Expiration to now + EXPIRE_IN (15 min + 60 s)
and the replicas run with --refresh-before=17m, longer than that: the broker then refreshes
halfway through the servable time (it never serves the last 15 min), i.e. 30 s after each issue,
with 30 s of servable time left and no jitter. Several refresh periods fit in a minute and a half.
Calls are counted from the proxy's record of issued credentials (its request log is bounded).

Checks: (a) AssumeRole calls for this module's sessions over a window, one replica alone vs two
replicas, equal within one refresh per key; every request to either replica succeeds; the
non-owner gets keys from the owner (peer requests, no fallbacks). (b) kill -9 of one replica: the
survivor takes its keys over once its Lease has not changed for the lease duration, every request
to the survivor succeeds, and it calls STS for every key, the dead replica's included. (c) Two
nodes, each with a real `podiam agent --server` holding its node-bound token, and two replicas: a
pod on each node gets its role in boto3, the AWS CLI, the JS SDK v3 and the Go SDK v2.
"""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from podiam_testenv import gosdk
from podiam_testenv.agent import Agent
from podiam_testenv.imds_client import ACCOUNT, WHOAMI_PY, assumed, run_pod
from podiam_testenv.kube import Kube, unique
from podiam_testenv.netns import Node, Relay
from podiam_testenv.webhook import WebhookCerts
from podiam_testenv.server import AUDIENCE, ROLE_KEY, Server, Setup, apply_server_rbac

pytestmark = pytest.mark.e2e

PODS = 200
ROLES = 20
# Time compression: credentials "expire" EXPIRE_IN after issue; the broker never serves the last
# 15 min (MIN_REMAINING) and, with REFRESH_BEFORE longer than EXPIRE_IN, refreshes halfway
# through the servable rest: every key every REFRESH_PERIOD seconds.
MIN_REMAINING = 15 * 60
REFRESH_PERIOD = 30
EXPIRE_IN = MIN_REMAINING + 2 * REFRESH_PERIOD
REFRESH_BEFORE = "17m"
WINDOW = 60  # seconds of counting per configuration: 2 refresh periods
LEASE_DURATION = 6  # --membership-lease-duration (s), short so that the takeover fits
RENEW_PERIOD = 2


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


class Shard:
    def __init__(self, cluster, sts, tmp_path_factory):
        self.setup = Setup(cluster, prefix="shard", allowed=("shard-*",))
        kube = self.setup.kube
        self.cluster, self.sts = cluster, sts
        apply_server_rbac(cluster)  # the podiam-server ServiceAccount, whose token peers use
        self.certs = WebhookCerts(tmp_path_factory.mktemp("shard-certs"))
        self.dir = tmp_path_factory.mktemp("shard")
        self.prefix = unique("shard")
        self.replicas: dict[str, Server] = {}
        self.pods = []
        for i in range(PODS):
            node = self.setup.node_a if i % 2 == 0 else self.setup.node_b
            self.pods.append(kube.run_pod(name=f"shard-{i}", node=node, service_account="app",
                                          annotations={ROLE_KEY: f"shard-r{i % ROLES}"}))
        self.sessions: dict[str, str] = {}  # pod name -> session name, from the first answer

    def peer_token_file(self):
        path = self.dir / "peer-token"
        if not path.exists():
            path.write_text(self.setup.kube.request_token(
                "podiam-server", audiences=(AUDIENCE,), namespace="kube-system",
                expiration_seconds=3600))
        return path

    def start(self, identity: str) -> Server:
        srv = Server(self.cluster, self.setup.kube, self.sts, self.certs, ())
        srv.args = ("--agent-service-account", f"{self.setup.ns}:podiam-agent",
                    "--base-role-arn", f"arn:aws:iam::{ACCOUNT}:role/",
                    "--refresh-before", REFRESH_BEFORE,
                    "--identity", identity, "--membership-namespace", "kube-system",
                    "--membership-lease-prefix", self.prefix,
                    "--membership-lease-duration", f"{LEASE_DURATION}s",
                    "--membership-renew-period", f"{RENEW_PERIOD}s",
                    "--peer-url", srv.url, "--peer-ca", str(self.certs.ca_file),
                    "--peer-token-file", str(self.peer_token_file()))
        self.replicas[identity] = srv.start()
        return srv

    def body(self, pod) -> dict:
        m = pod["metadata"]
        return {"namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
                "roleArn": role_arn(m["annotations"][ROLE_KEY])}

    def token(self, pod) -> str:
        return self.setup.token_a if pod["spec"]["nodeName"] == self.setup.node_a else self.setup.token_b

    def ask_all(self, srv: Server) -> list[tuple[str, int, str]]:
        """Every pod through `srv`; returns the failures (pod, status, body)."""
        def one(pod):
            r = srv.ask(self.token(pod), self.body(pod))
            if r.status_code == 200:
                self.sessions.setdefault(pod["metadata"]["name"], r.json()["sessionName"])
                return None
            return (pod["metadata"]["name"], r.status_code, r.text[:200])

        with ThreadPoolExecutor(8) as pool:
            return [f for f in pool.map(one, self.pods) if f]

    def ask_until_all(self, srv: Server, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (failed := self.ask_all(srv)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not failed, failed[:5]

    def issued(self, since: float, until: float | None = None) -> list[str]:
        """Sessions of the credentials STS issued for this module's pods in [since, until): one
        entry per AssumeRole call (the proxy and its counts are shared with other modules)."""
        ours = set(self.sessions.values())
        return [r["session"] for r in self.sts.issued().values()
                if r["session"] in ours and r["time"] >= since and (until is None or r["time"] < until)]

    def close(self) -> None:
        for srv in self.replicas.values():
            if srv.proc and srv.proc.poll() is None:
                srv.stop()
        self.setup.close()


@pytest.fixture(scope="module")
def shard(cluster, sts, tmp_path_factory):
    s = Shard(cluster, sts, tmp_path_factory)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def compressed(sts):
    """The proxy's faults are cleared between tests: compress time again for each."""
    sts.fault("expire_in", action="AssumeRole", seconds=EXPIRE_IN)
    yield
    sts.clear_faults()


def wait_for(what, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_two_replicas_make_the_sts_calls_of_one(shard):
    a = shard.start("replica-a")
    shard.ask_until_all(a)  # learns the session names; every key is prefetched by then
    assert a.metric("podiam_server_members") == 1
    # The replicas serve the whole cluster, and the apiserver is shared with other modules whose
    # pods (some still being deleted) add keys: count ours as a lower bound, never an equality.
    wait_for("a's prefetch", lambda: a.metric("podiam_server_owned_keys") >= PODS, 30)

    t0 = time.time()
    time.sleep(WINDOW)
    one = len(shard.issued(t0, t0 + WINDOW))
    assert shard.ask_all(a) == []

    b = shard.start("replica-b")
    wait_for("both views of the group",
             lambda: a.metric("podiam_server_members") == 2 and b.metric("podiam_server_members") == 2,
             20)
    owned_a, owned_b = a.metric("podiam_server_owned_keys"), b.metric("podiam_server_owned_keys")
    total = owned_a + owned_b
    assert total >= PODS, (owned_a, owned_b)
    assert 0.3 * total < owned_a < 0.7 * total, (owned_a, owned_b)
    time.sleep(REFRESH_PERIOD)  # b's first fetches of its keys, a's releases, settle
    t1 = time.time()
    failures = []
    deadline = time.monotonic() + WINDOW
    while time.monotonic() < deadline:  # both replicas asked for every pod throughout
        failures += shard.ask_all(a) + shard.ask_all(b)
        time.sleep(5)
    two = len(shard.issued(t1, t1 + WINDOW))
    assert failures == [], failures[:5]
    print(f"AssumeRole calls in {WINDOW} s: one replica {one}, two replicas {two}")
    # Equal within one refresh per key (the two windows start at different refresh phases).
    assert abs(two - one) <= PODS, (one, two)
    # Each key was fetched from STS by one replica: about one call per key per period.
    expected = PODS * WINDOW / REFRESH_PERIOD
    assert one == pytest.approx(expected, rel=0.25), (one, expected)
    assert two == pytest.approx(expected, rel=0.25), (two, expected)
    # The non-owners asked the owners, and never had to fall back to STS.
    for srv in (a, b):
        assert srv.metric("podiam_server_peer_requests_total", 'result="ok"') > 0
        assert srv.metric("podiam_server_peer_fallbacks_total") == 0, srv.log_tail()


def test_the_survivor_takes_over_a_killed_replicas_keys(shard):
    a, b = shard.replicas["replica-a"], shard.replicas["replica-b"]
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(10)
    killed = time.time()
    failures = []
    deadline = time.monotonic() + LEASE_DURATION + 3
    while time.monotonic() < deadline:  # meanwhile: fallbacks to STS, never an error
        failures += shard.ask_all(a)
    wait_for("a alone", lambda: a.metric("podiam_server_members") == 1, 10)
    assert a.metric("podiam_server_owned_keys") >= PODS  # every key of the cluster, ours included
    deadline = time.monotonic() + REFRESH_PERIOD + 5
    while time.monotonic() < deadline:
        failures += shard.ask_all(a)
        time.sleep(2)
    assert failures == [], failures[:5]
    # The survivor called STS for every key since the kill, the dead replica's included.
    missing = set(shard.sessions.values()) - set(shard.issued(killed))
    assert not missing, sorted(missing)[:5]
    assert a.proc.poll() is None


def test_pods_on_two_nodes_get_their_roles_through_their_agents_and_two_replicas(
        shard, cluster, sts, moto, tmp_path):
    """Issue 17's first "must show": two nodes (two agent network namespaces, each agent with its
    own node-bound token and no AWS credentials) and two sharded replicas; a pod on each node, and
    its unmodified boto3, AWS CLI, JS SDK v3 and Go SDK v2 get its role through agent → server.
    Node A's agent lists replica a first, node B's replica c (a replica asked for a key it does
    not own gets it from the owner, as the first test shows)."""
    a = shard.replicas.get("replica-a")
    if a is None or a.proc is None or a.proc.poll() is not None:
        a = shard.start("replica-a")
    c = shard.start("replica-c")
    wait_for("both views of the group",
             lambda: a.metric("podiam_server_members") == 2 and c.metric("podiam_server_members") == 2,
             20)
    setup = shard.setup
    nodes, kubes, agents = [], [], []
    try:
        for first, second in ((a, c), (c, a)):
            node = Node()
            nodes.append(node)
            node.sts_endpoint = node.expose(moto.endpoint)
            k = Kube(cluster.rest, namespace=setup.ns)  # its own Node object (k.node)
            kubes.append(k)
            token_file = tmp_path / f"server-token-{len(nodes)}"
            token_file.write_text(setup.agent_token(k.node))
            for srv in (first, second):  # each replica as the node sees it: its own loopback
                node._closing(Relay(("127.0.0.1", srv.port), "127.0.0.1", srv.port, node.name))
            agents.append(Agent(cluster, k, node, sts, (
                "--server", f"{first.url},{second.url}", "--server-ca", str(shard.certs.ca_file),
                "--server-token-file", str(token_file))).start())
        for i, (node, k) in enumerate(zip(nodes, kubes)):
            # Pod IPs follow the pod's index on its node: node B's first pod is a placeholder, so
            # that the two pods' IPs differ in the apiserver as they would in a cluster.
            pod = node.add_pod() if i == 0 else (node.add_pod(), node.add_pod())[1]
            role = f"shard-two-{i}"
            obj = run_pod(k, pod, setup.ns, role=role)
            want = assumed(role, setup.ns, obj)
            assert json.loads(pod.python(WHOAMI_PY).stdout) == want  # boto3
            assert json.loads(pod.aws_cli(["sts", "get-caller-identity", "--output", "json"]).stdout)[
                "Arn"] == want
            assert json.loads(pod.node_js("whoami.mjs").stdout)["Arn"] == want
            assert json.loads(pod.run([gosdk.whoami_binary()]).stdout)["Arn"] == want
        for agent in agents:  # no AWS identity on the nodes: every credential came from a replica
            assert agent.metric("podiam_sts_calls_total") == 0
            assert agent.metric("podiam_server_client_requests_total", result="ok") >= 1
    finally:
        for agent in agents:
            code = agent.stop()
            assert not agent.secrets_in_log(), agent.secrets_in_log()
            assert code == 0, agent.log_tail()
        for node in nodes:
            node.destroy()
        for k in kubes:
            for name in k.created_nodes:
                k.delete_node(name)
