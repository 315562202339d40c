"""The IPv6 metadata endpoint (issue 13, defect 8): on instances with it enabled the node's own
metadata service also answers at [fd00:ec2::254]:80, which the IPv4 DNAT rule does not cover.

The node namespace plays an IPv6 node: IPv6 forwarding on, pods with a /64 on their veth and a
route for exactly fd00:ec2::254/128 and the node's IPv6 address (netns.Pod with ipv6=True), and a
stub "node IMDS" on fd00:ec2::254 inside the node serving the node's keys. Nothing leaves the
test namespaces: the node has no interface but lo and the pods' veths.
"""

import datetime as dt
import json
import signal

import pytest
from podiam_testenv.agent import AGENT_PORT, Agent
from podiam_testenv.imds_client import (CREDS, NODE_SECRETS, WHOAMI_PY, assumed, namespace,
                                        request)
from podiam_testenv.imds_client import run_pod as run_v4_pod
from podiam_testenv.imds_stub import ImdsStub
from podiam_testenv.netns import IMDS_IP, IMDS_IP6, NODE_IP6

pytestmark = pytest.mark.e2e

NODE_KEY = "ASIANODEIPV6NODEIPV6"
NODE_SECRET = "node-ipv6-secret-key-never-for-pods"
V6_RULE = f"-d {IMDS_IP6}/128"


@pytest.fixture
def node_imds6(node):
    """The node's own metadata service on [fd00:ec2::254]:80 inside the node namespace."""
    stub = ImdsStub(role="node-role", require_token=False, credentials={
        "AccessKeyId": NODE_KEY, "SecretAccessKey": NODE_SECRET, "SessionToken": "node-token",
        "Expiration": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=6)})
    node.enable_ipv6()
    node.add_address(IMDS_IP6)
    node.serve_http(ImdsStub.Handler, 80, owner=stub, host=IMDS_IP6)
    return stub


def run_pod(kube, pod, ns, role):
    """A running pod object whose status.podIPs lists the netns pod's IPv4 and IPv6 addresses."""
    obj = run_v4_pod(kube, pod, ns, role=role)
    return kube.set_pod_status(obj["metadata"]["name"], pod_ip=pod.ip, pod_ips=[pod.ip, pod.ip6],
                               namespace=ns)


def v6_rules(node) -> list[str]:
    return [line for line in node.nat6_rules().splitlines() if V6_RULE in line]


def status6(pod, path: str = CREDS) -> int | str:
    """The status of a GET to [fd00:ec2::254] from `pod`, or "refused"."""
    try:
        return request(pod, "GET", path, host=IMDS_IP6)[0]
    except ConnectionRefusedError:
        return "refused"


def no_secrets(text: str) -> bool:
    return all(s not in text for s in (*NODE_SECRETS, NODE_KEY, NODE_SECRET))


def test_without_an_ipv6_rule_pods_reach_the_nodes_imds_and_with_it_get_their_own_role(
        kube, pods, start_agent, node, node_imds6):
    ns = namespace(kube, ["app-v6", "other-v6"])
    pod, other = pods(2, ipv6=True)
    obj = run_pod(kube, pod, ns, "app-v6")
    other_obj = run_pod(kube, other, ns, "other-v6")

    # Before: no agent, no rule. The pod reaches the node's metadata service over IPv6.
    status, _, body = request(pod, "GET", CREDS, host=IMDS_IP6)
    assert (status, body) == (200, "node-role")  # the test has teeth
    status, _, body = request(pod, "GET", CREDS + "node-role", host=IMDS_IP6)
    assert status == 200 and NODE_SECRET in body

    # The IPv4-only agent of before this fix (--ipv6-metadata=off): IPv4 is covered, IPv6 is not,
    # and the agent says so.
    old = start_agent("--ipv6-metadata=off")
    assert request(pod, "GET", CREDS)[2] == "app-v6"
    assert request(pod, "GET", CREDS, host=IMDS_IP6)[2] == "node-role"
    assert "pods with IPv6 may reach the node's own metadata service" in old.log_text()
    assert v6_rules(node) == []
    assert old.stop() == 0
    reached = len(node_imds6.requests)

    # With the IPv6 rule: podiam answers on [fd00:ec2::254], each pod with its own role.
    agent = start_agent("--host-ipv6", NODE_IP6)
    assert len(v6_rules(node)) == 1, node.nat6_rules()
    assert f"--to-destination [{NODE_IP6}]:{AGENT_PORT}" in v6_rules(node)[0]
    for p, role in ((pod, "app-v6"), (other, "other-v6")):
        status, _, body = request(p, "GET", CREDS, host=IMDS_IP6)
        assert (status, body) == (200, role)
        status, _, body = request(p, "GET", CREDS + role, host=IMDS_IP6)
        assert status == 200, body
        assert no_secrets(body)
        assert request(p, "GET", CREDS + "node-role", host=IMDS_IP6)[0] == 404
    # An unmodified SDK told to use the IPv6 endpoint gets its pod's role (its IMDSv2 token is
    # bound to the pod's IPv6 source address).
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}
    assert json.loads(pod.python(WHOAMI_PY, env=env).stdout) == assumed("app-v6", ns, obj)
    assert json.loads(other.python(WHOAMI_PY, env=env).stdout) == assumed("other-v6", ns,
                                                                          other_obj)
    # IPv4 keeps working beside it.
    assert request(pod, "GET", CREDS, host=IMDS_IP)[2] == "app-v6"
    assert len(node_imds6.requests) == reached, "pod traffic reached the node's IMDS over IPv6"
    assert agent.metric("podiam_imds_requests_total", route="credentials", code="200") >= 4


def test_an_ipv6_source_address_maps_to_its_own_pod_only(kube, pods, start_agent, node, node_imds6):
    """A pod whose status lists only its IPv4 address is unknown when it asks over IPv6: the
    IPv6 source address is looked up as is, never borrowed from another pod."""
    ns = namespace(kube, ["listed", "unlisted"])
    listed, unlisted = pods(2, ipv6=True)
    run_pod(kube, listed, ns, "listed")
    run_v4_pod(kube, unlisted, ns, role="unlisted")  # podIPs: IPv4 only
    start_agent("--host-ipv6", NODE_IP6)
    assert request(listed, "GET", CREDS, host=IMDS_IP6)[:3:2] == (200, "listed")
    assert request(unlisted, "GET", CREDS, host=IMDS_IP)[:3:2] == (200, "unlisted")
    status, _, body = request(unlisted, "GET", CREDS, host=IMDS_IP6, timeout=10)
    assert status != 200 and body not in ("listed", "unlisted"), (status, body)
    assert node_imds6.requests == []


def test_the_agent_refuses_to_start_when_pods_could_reach_the_ipv6_imds_uncovered(
        cluster, kube, node, sts, node_imds6):
    agent = Agent(cluster, kube, node, sts, ())
    try:
        agent.start(wait_ready=False)
        code = agent.proc.wait(30)
    finally:
        agent.stop()
    assert code == 1, agent.log_tail()
    refusal = [line for line in agent.log_text().splitlines() if "cannot start" in line]
    assert len(refusal) == 1, agent.log_tail()
    assert "fd00:ec2::254" in refusal[0]
    assert "set --host-ipv6" in refusal[0] and "--ipv6-metadata=off" in refusal[0]
    assert v6_rules(node) == []


def test_remove_on_exit_removes_both_rules_and_a_restart_keeps_one_of_each(
        kube, pods, start_agent, node, node_imds6):
    ns = namespace(kube, ["app-v6"])
    (pod,) = pods(1, ipv6=True)
    run_pod(kube, pod, ns, "app-v6")
    v4_rule = f"-d {IMDS_IP}/32"
    first = start_agent("--host-ipv6", NODE_IP6)
    assert first.stop(signal.SIGTERM) == 0
    assert len(v6_rules(node)) == 1  # kept by default: no window to the node's IMDS
    assert status6(pod) == "refused"  # no agent: refused, never the stub
    second = start_agent("--host-ipv6", NODE_IP6, "--iptables-remove-on-exit")
    assert len(v6_rules(node)) == 1, node.nat6_rules()  # idempotent
    assert sum(v4_rule in line for line in node.nat_rules().splitlines()) == 1
    assert request(pod, "GET", CREDS, host=IMDS_IP6)[2] == "app-v6"
    assert second.stop(signal.SIGTERM) == 0
    assert v6_rules(node) == [], node.nat6_rules()
    assert not any(v4_rule in line for line in node.nat_rules().splitlines()), node.nat_rules()
    assert node_imds6.requests == []
