"""Self-tests of the node/pod network namespaces (fixtures `node`, `pods`).

Unmodified clients (botocore, the AWS CLI, the JS SDK v3) in pod namespaces find credentials at
169.254.169.254 through the node's DNAT, served by a stub IMDS, and call moto through the node.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from http.server import BaseHTTPRequestHandler

import pytest

from podiam_testenv import netns, paths
from podiam_testenv.faultproxy import FaultProxy
from podiam_testenv.imds_stub import ImdsStub

pytestmark = pytest.mark.harness

STUB_ROLE_ARN = "arn:aws:iam::123456789012:role/stub-role"
STUB_ARN = "arn:aws:sts::123456789012:assumed-role/stub-role/harness-pod"


@pytest.fixture
def imds(node, moto):
    """A stub IMDS in the node, behind the 169.254.169.254 DNAT, serving moto credentials."""
    stub = ImdsStub(role="stub-role", credentials=moto.assume_role(STUB_ROLE_ARN, "harness-pod"))
    server = node.serve_http(ImdsStub.Handler, owner=stub)
    node.redirect_imds(server.port)
    return stub


BOTO3_WHOAMI = textwrap.dedent("""
    import json, boto3
    session = boto3.Session()
    creds = session.get_credentials()
    ident = session.client("sts").get_caller_identity()
    print(json.dumps({"method": creds.method, "AccessKeyId": creds.access_key,
                      "Arn": ident["Arn"], "endpoint": session.client("sts").meta.endpoint_url}))
""")


def test_boto3_default_chain_uses_imdsv2_through_dnat(node, pods, imds):
    [pod] = pods(1)
    out = json.loads(pod.python(BOTO3_WHOAMI).stdout)
    assert out == {"method": "iam-role", "AccessKeyId": imds.credentials["AccessKeyId"],
                   "Arn": STUB_ARN, "endpoint": node.sts_endpoint}
    assert imds.paths_requested("PUT") == ["/latest/api/token"]
    gets = [r for r in imds.requests if r["method"] == "GET"]
    assert gets and all(r["token"] in imds.tokens for r in gets), gets  # IMDSv2 only


def test_aws_cli_default_chain(pods, imds):
    [pod] = pods(1)
    out = pod.aws_cli(["sts", "get-caller-identity", "--output", "json"]).stdout
    assert json.loads(out)["Arn"] == STUB_ARN


def test_js_sdk_default_chain(pods, imds):
    [pod] = pods(1)
    out = json.loads(pod.node_js("whoami.mjs").stdout)
    assert out["Arn"] == STUB_ARN and out["AccessKeyId"] == imds.credentials["AccessKeyId"]
    assert imds.paths_requested("PUT") == ["/latest/api/token"]  # IMDSv2
    # @smithy/credential-provider-imds 4.5.x asks only the legacy path (no -extended)
    assert imds.paths_requested("GET") == ["/latest/meta-data/iam/security-credentials/",
                                           "/latest/meta-data/iam/security-credentials/stub-role"]


def test_several_pods_share_the_node(pods, imds):
    a, b, c = pods(3)
    assert len({a.ip, b.ip, c.ip}) == 3
    for pod in (a, b, c):
        assert json.loads(pod.python(BOTO3_WHOAMI).stdout)["Arn"] == STUB_ARN


def test_pod_identity_address_is_redirected_too(node, pods):
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *a):
            pass

    node.redirect_pod_identity(node.serve_http(Hello).port)
    [pod] = pods(1)
    out = pod.python("import urllib.request as u; print(u.urlopen('http://169.254.170.23/v1/credentials', timeout=5).read().decode())")
    assert out.stdout.strip() == "hello"


def test_pod_routes_only_reach_the_node(pods):
    [pod] = pods(1)
    routes = pod.run(["ip", "-4", "route", "show", "table", "all"]).stdout
    assert "default" not in routes
    main = pod.run(["ip", "-4", "route"]).stdout.splitlines()
    assert sorted(line.split()[0] for line in main) == sorted(
        [netns.NODE_IP, netns.IMDS_IP, netns.POD_IDENTITY_IP, f"{pod.gateway[:-1]}0/30"])


@pytest.mark.parametrize("target", ["8.8.8.8", "10.0.0.1", "192.168.1.1", "172.16.0.1"])
def test_pod_cannot_reach_anything_else(pods, target):
    [pod] = pods(1)
    start = time.monotonic()
    with pytest.raises(OSError) as err:
        pod.connect(target, 443, timeout=5).close()
    assert err.value.errno == errno.ENETUNREACH  # refused by routing: no packet is sent
    assert time.monotonic() - start < 0.5


def test_node_has_no_way_out(node):
    links = node.run(["ip", "-o", "link"]).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    with pytest.raises(OSError) as err:
        netns.connect("8.8.8.8", 53, node.name, timeout=2)
    assert err.value.errno == errno.ENETUNREACH


def test_moto_copy_inside_the_node(node, pods):
    copy = node.start_moto()
    assert copy.endpoint.startswith(f"http://{netns.NODE_IP}:")
    creds = copy.assume_role("arn:aws:iam::111122223333:role/copy", "in-node")  # via its relay
    [pod] = pods(1)
    code = textwrap.dedent(f"""
        import boto3
        sts = boto3.client("sts", endpoint_url={copy.endpoint!r}, aws_access_key_id={creds["AccessKeyId"]!r},
                           aws_secret_access_key={creds["SecretAccessKey"]!r},
                           aws_session_token={creds["SessionToken"]!r})
        print(sts.get_caller_identity()["Arn"])
    """)
    assert pod.python(code).stdout.strip() == "arn:aws:sts::111122223333:assumed-role/copy/in-node"


def test_fault_proxy_inside_the_node(node, pods, moto):
    """A proxy listening in the node in front of the session moto (on the host's loopback)."""
    proxy = FaultProxy(moto.endpoint, netns.NODE_IP, netns=node.name)
    try:
        [pod] = pods(1)
        code = "import boto3; print(boto3.client('sts', aws_access_key_id='AKIAX', aws_secret_access_key='x').get_caller_identity()['Arn'])"
        env = {"AWS_ENDPOINT_URL_STS": proxy.endpoint}
        assert pod.python(code, env=env).stdout.strip() == "arn:aws:sts::123456789012:user/moto"
        proxy.fault("throttling", count=10)
        failed = pod.python(code, env=env | {"AWS_MAX_ATTEMPTS": "2"}, check=False)
        assert failed.returncode != 0 and "Throttling" in failed.stderr
        assert proxy.counts("GetCallerIdentity") == 1 + 2
    finally:
        proxy.close()


def _host_network_state():
    def run(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    return {
        "ip_forward": open("/proc/sys/net/ipv4/ip_forward").read(),
        "links": run(paths.tool("ip"), "-o", "link", "show"),
        "addrs": run(paths.tool("ip"), "-o", "addr", "show"),
        "routes": run(paths.tool("ip"), "route", "show", "table", "all"),
        "nat": run(paths.tool("iptables"), "-w", "-t", "nat", "-S"),
        "filter": run(paths.tool("iptables"), "-w", "-S"),
    }


def _drop_volatile(state):  # link lines carry counters-free state only, but be safe about order
    return {k: sorted(v.splitlines()) for k, v in state.items()}


def test_host_namespace_is_untouched_and_teardown_is_complete(moto):
    before = _drop_volatile(_host_network_state())
    node = netns.Node()
    try:
        start = time.monotonic()
        pods = [node.add_pod() for _ in range(5)]
        per_pod = (time.monotonic() - start) / 5
        node.redirect_imds(8181)
        node.expose(moto.endpoint)
        assert _drop_volatile(_host_network_state()) == before
        names = [node.name] + [p.name for p in pods]
        assert set(names) <= set(netns.list_test_namespaces())
    finally:
        node.destroy()
    assert not set(names) & set(netns.list_test_namespaces())
    assert _drop_volatile(_host_network_state()) == before
    print(f"per-pod namespace creation: {per_pod * 1000:.1f} ms")


def _pytest_subprocess(tmp_path, body: str):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(body))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ, PYTHONPATH=str(paths.TESTS / "lib"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "podiam_testenv.fixtures_aws",
         "-p", "podiam_testenv.fixtures_netns", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_teardown_after_a_failing_test(tmp_path):
    names = tmp_path / "names.txt"
    result = _pytest_subprocess(tmp_path, f"""
        def test_fails(node, pods):
            made = pods(2)
            open({str(names)!r}, "w").write(" ".join([node.name] + [p.name for p in made]))
            assert False, "deliberate failure"
    """)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliberate failure" in result.stdout
    assert "network namespaces" in result.stdout and "log tail" in result.stdout  # diagnostics
    made = names.read_text().split()
    assert len(made) == 3
    assert not set(made) & set(netns.list_test_namespaces())


def test_cleanup_cli_removes_namespaces_of_a_crashed_run(tmp_path):
    code = textwrap.dedent("""
        import os, signal
        from podiam_testenv.netns import Node
        node = Node()
        pods = [node.add_pod() for _ in range(2)]
        print(" ".join([node.name] + [p.name for p in pods]), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=str(paths.TESTS / "lib"))
    crashed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    left = crashed.stdout.split()
    assert len(left) == 3 and set(left) <= set(netns.list_test_namespaces()), crashed.stderr
    out = subprocess.run([sys.executable, "-m", "podiam_testenv.cleanup"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert all(f"removing {name}" in out for name in left)
    assert not set(left) & set(netns.list_test_namespaces())
