"""pytest plugin: a "node" network namespace and "pod" namespaces joined to it (function scope).

Fixtures:
  node  Node: name, ip (10.241.0.1), run(), popen(), redirect_imds(port),
        redirect_pod_identity(port), dnat(), serve_http(), expose(url), start_moto(),
        sts_endpoint (what pods get as AWS_ENDPOINT_URL_STS: the session moto, relayed)
  pods  factory: pods(n=1, ipv6=False) -> [Pod]; Pod: name, ip, gateway, ip6, gateway6 (ipv6),
        env(), run(), python(), aws_cli(), node_js(), connect()
Everything is deleted at teardown, also when the test fails. The host must have ip_forward=0.
See netns.py for the safety model.
"""

import pytest

from . import cleanup
from .netns import Node, assert_host_forwarding_off, list_test_namespaces

_stale_checked = False


@pytest.fixture
def node(request, moto):
    global _stale_checked
    assert_host_forwarding_off()
    if not _stale_checked:  # namespaces of crashed runs (their owner pid is gone)
        cleanup.remove(cleanup.stale())
        _stale_checked = True
    n = Node()
    request.node._pdm_node = n
    try:
        n.sts_endpoint = n.expose(moto.endpoint)
        yield n
    finally:
        n.destroy()
        leftover = [ns for ns in list_test_namespaces() if n.run_id in ns]
        assert not leftover, f"namespaces left after teardown: {leftover}"
        assert_host_forwarding_off()


@pytest.fixture
def pods(node):
    def make(n: int = 1, ipv6: bool = False):
        return [node.add_pod(ipv6=ipv6) for _ in range(n)]
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    n = getattr(item, "_pdm_node", None)
    if report.failed and n is not None and call.when == "call":
        try:
            report.sections.append(("network namespaces", n.diagnostics()))
        except Exception as e:  # noqa: BLE001 - diagnostics must not hide the failure
            report.sections.append(("network namespaces", f"(diagnostics failed: {e})"))
