"""pytest plugin: moto and the counting/fault-injecting STS proxy (both session scope).

Fixtures:
  moto  MotoServer on 127.0.0.1 (endpoint, create_role(), assume_role(), client(), reset(), ...)
  sts   FaultProxy in front of it (endpoint, control_url, counts(), reset_counts(), requests(),
        fault(), clear_faults(), stats(), .moto)
Exported for C++ tests run as subprocesses: PODIAM_TEST_MOTO_ENDPOINT, PODIAM_TEST_STS_ENDPOINT,
PODIAM_TEST_STS_CONTROL (base URL: GET .../stats, POST .../fault, .../clear, .../reset).
Before each test, every proxy's faults are cleared and its counts zeroed.
"""

import pytest

from .faultproxy import FaultProxy
from .moto import MotoServer

_live: list = []  # servers whose logs go into failure reports


@pytest.fixture(scope="session")
def moto():
    server = MotoServer("127.0.0.1").start()
    _live.append(server)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PODIAM_TEST_MOTO_ENDPOINT", server.endpoint)
            yield server
    finally:
        _live.remove(server)
        server.stop()


@pytest.fixture(scope="session")
def sts(moto):
    proxy = FaultProxy(moto.endpoint)
    proxy.moto = moto
    _live.append(proxy)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PODIAM_TEST_STS_ENDPOINT", proxy.endpoint)
            mp.setenv("PODIAM_TEST_STS_CONTROL", proxy.control_url)
            yield proxy
    finally:
        _live.remove(proxy)
        proxy.close()


@pytest.fixture(autouse=True)
def _fresh_sts_proxy(request):
    for proxy in _proxies():
        proxy.clear_faults()
        proxy.reset_counts()
        proxy._log(f"--- {request.node.nodeid}")
    yield
    for proxy in _proxies():
        proxy.clear_faults()


def _proxies():
    return [s for s in _live if isinstance(s, FaultProxy)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed and {"moto", "sts", "node"} & set(getattr(item, "fixturenames", ())):
        for server in _live:
            report.sections.append((f"{server!r} log tail", server.log_tail() or "(empty)"))
