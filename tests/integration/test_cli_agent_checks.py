"""Checks of `podiam agent` that protect pods from a configuration that could never work
(credentials too short-lived to serve and role chaining over 1 h, at parse time; bad pod ranges,
at start-up) and the flags that choose session scope and the duplicate-IP rule; and the shipped
DaemonSet's own arguments."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env=None):
    # A region and no metadata service: a test on the host must never reach 169.254.169.254.
    full_env = {"PATH": os.environ["PATH"], "NODE_NAME": "", "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    return subprocess.run([str(podiam_binary()), *args], capture_output=True, text=True,
                          timeout=30, env=full_env)


def one_startup_error(r):
    assert r.returncode == 1, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "cannot start the agent" in lines[0]
    return lines[0]


BASE = ["agent", "--node", "n1", "--kubeconfig", "/nonexistent", "--region", "us-east-1"]


def one_usage_error(r):
    assert r.returncode == 2, r
    assert r.stderr.startswith("podiam: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr.strip()


@pytest.mark.parametrize("args,needles", [
    # kiam's default lifetime: every credential would arrive already unservable (defect 2).
    (["--session-duration", "15m"], ["--session-duration 15m is too short", "at least 50m"]),
    (["--session-duration", "15m", "--refresh-before", "5m"], ["at least 25m"]),
    (["--session-duration", "13h"], ["at most 12h"]),
    (["--session-duration", "2h", "--assume-role", "arn:aws:iam::123456789012:role/hop"],
     ["role chaining"]),
])
def test_configurations_that_cannot_work_are_refused_with_what_would(args, needles):
    # Checked at parse time (no I/O needed): a usage error, before anything starts.
    line = one_usage_error(run(*BASE, *args))
    for needle in needles:
        assert needle in line, line


def test_bad_pod_ranges_are_refused_at_start_up():
    line = one_startup_error(run(*BASE, "--pod-cidr", "10.244.1.0/33"))
    assert "--pod-cidr" in line, line


@pytest.mark.parametrize("args", [
    ["--session-scope", "service-account"],
    ["--session-scope", "pod", "--duplicate-ips", "refuse"],
    ["--pod-cidr", "10.244.1.0/24,fd00:10:244:1::/64"],
    ["--session-duration", "25m", "--refresh-before", "5m"],
])
def test_valid_choices_get_past_configuration(args):
    # The kubeconfig is the next thing checked: reaching it means the flags were accepted.
    line = one_startup_error(run(*BASE, *args))
    assert "kube" in line, line


@pytest.mark.parametrize("args", [
    ["--session-scope", "namespace"],
    ["--duplicate-ips", "oldest"],
])
def test_unknown_choices_are_usage_errors(args):
    r = run(*BASE, *args)
    assert r.returncode == 2, r
    assert r.stderr.startswith("podiam: ") and r.stderr.count("\n") == 1, r.stderr


def daemonset_container():
    docs = list(yaml.safe_load_all((ROOT / "deploy/agent/daemonset.yaml").read_text()))
    ds = next(d for d in docs if d and d.get("kind") == "DaemonSet")
    return ds["spec"]["template"]["spec"]["containers"][0]


def test_daemonset_does_not_pin_a_region():
    # A fixed AWS_REGION sends every node's STS calls to one region: cross-region latency, and
    # broken in aws-cn and GovCloud. The agent finds the node's region itself.
    env = {e["name"] for e in daemonset_container().get("env", [])}
    assert "AWS_REGION" not in env and "AWS_DEFAULT_REGION" not in env


def test_daemonset_arguments_are_accepted():
    c = daemonset_container()
    args = [a.replace("$(HOST_IP)", "192.0.2.10") for a in c["args"]]
    r = run(*args, "--node", "n1", "--kubeconfig", "/nonexistent", "--region", "us-east-1",
            env={"PODIAM_HOST_IP": "192.0.2.10"})
    # Not a usage error (2): it fails at the DNAT rule or the kubeconfig, both after parsing.
    assert r.returncode == 1, r
