"""The podiam binary's command line: version, help, one-line usage errors (exit 2), and one-line
start-up errors an operator can act on (exit 1)."""

import os
import subprocess

import pytest

from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.integration


def run(*args, env=None):
    # A region and no metadata service: a test on the host must never reach 169.254.169.254.
    full_env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    return subprocess.run([str(podiam_binary()), *args], capture_output=True, text=True,
                          timeout=30, env=full_env)


def test_version_and_help():
    v = run("--version")
    assert v.returncode == 0 and v.stdout.startswith("podiam ")
    h = run("agent", "--help")
    assert h.returncode == 0
    assert "--base-role-arn" in h.stdout and "PODIAM_BASE_ROLE_ARN" in h.stdout


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["agent", "--imdsv1", "sometimes"],
    ["agent", "--session-duration", "forever"],
    ["teleport"],
])
def test_usage_errors_are_one_line_and_exit_2(args):
    r = run(*args)
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("podiam: ")


def test_environment_sets_flags_and_is_validated_the_same_way():
    r = run("agent", env={"PODIAM_IMDSV1": "sometimes"})
    assert r.returncode == 2
    assert "sometimes" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["agent"], "--node"),
    (["agent", "--node", "n1", "--base-role-arn", "arn:aws:iam::12:role/"], "--base-role-arn"),
    (["agent", "--node", "n1", "--listen", "nowhere"], "--listen"),
    (["agent", "--node", "n1", "--allow-metadata-path", "(", "--kubeconfig", "/nonexistent"],
     "kube"),
])
def test_agent_startup_errors_are_one_actionable_line_and_exit_1(args, needle):
    r = run(*args, env={"NODE_NAME": ""})
    assert r.returncode == 1, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "cannot start the agent" in lines[0]
    assert needle in lines[0], lines[0]
