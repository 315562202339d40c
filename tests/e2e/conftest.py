"""E2E fixtures: `podiam agent` in a node namespace, pods in pod namespaces, real SDKs."""

import pytest

from podiam_testenv.agent import Agent


@pytest.fixture
def start_agent(cluster, kube, node, sts, request):
    """start_agent(*extra_flags) -> a running, ready Agent; stopped (and checked) at teardown."""
    agents = []

    def start(*args, wait_ready=True):
        agent = Agent(cluster, kube, node, sts, args)
        agents.append(agent)
        request.node._podiam_agents = agents
        return agent.start(wait_ready=wait_ready)

    yield start
    for agent in agents:
        code = agent.stop()
        log = agent.log_text() if agent.log_path.exists() else ""
        assert "ERROR: AddressSanitizer" not in log, agent.log_tail(120)
        assert "runtime error:" not in log, agent.log_tail(120)
        assert not agent.secrets_in_log(), f"secrets in the agent log: {agent.secrets_in_log()}"
        assert code == 0, f"agent exit code {code}:\n{agent.log_tail()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed and call.when == "call":
        for agent in getattr(item, "_podiam_agents", []):
            report.sections.append((f"podiam agent log ({agent.node_name})", agent.log_tail(80)))
