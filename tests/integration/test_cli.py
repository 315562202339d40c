"""The podiam binary's command line: version, help, one-line usage errors (exit 2: malformed flags
and values whose meaning is wrong), and one-line start-up errors an operator can act on (exit 1)."""

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
    (["agent", "--node", "n1", "--base-role-arn", "arn:aws:iam::12:role/"], "--base-role-arn"),
    (["agent", "--node", "n1", "--listen", "nowhere"], "--listen must be ADDRESS:PORT"),
    (["agent", "--node", "n1", "--metrics-listen", "0.0.0.0:http"], "--metrics-listen"),
    (["agent", "--node", "n1", "--assume-role", "hop"], "--assume-role"),
    (["agent", "--node", "n1", "--sts-endpoint", "sts.example"], "--sts-endpoint"),
])
def test_agent_configuration_errors_are_found_at_parse_time(args, needle):
    # What a flag's value means is checked before anything starts (no I/O needed): one line, exit 2.
    r = run(*args, env={"NODE_NAME": ""})
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("podiam: ")
    assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("args,needle", [
    (["agent"], "--node"),
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


# kube2iam and kiam DaemonSets keep their args when only the image changes (docs/agent.md,
# "Migrating from kube2iam and kiam"). Each run gets past flag parsing and stops at start-up for an
# expected reason (no kubeconfig), after one warning line per legacy flag podiam does not honour.

# The args kube2iam's Helm chart renders with its default values; the kubelet expands $(NODE_NAME)
# and $(HOST_IP), so literals here.
KUBE2IAM_CHART_DEFAULTS = ["--host-interface=docker0", "--node=node-1", "--iptables=false",
                           "--app-port=8181", "--metrics-port=8181"]
# The same chart with the usual overrides: host.iptables=true, host.interface=cali+,
# extraArgs.base-role-arn, verbose=true, prometheus.metricsPort=9543.
KUBE2IAM_CHART_OVERRIDES = ["--host-interface=cali+", "--node=node-1", "--host-ip=10.0.0.5",
                            "--iptables=true", "--base-role-arn=arn:aws:iam::123456789012:role/",
                            "--verbose", "--app-port=8181", "--metrics-port=9543"]
# kiam's Helm chart, its agent DaemonSet with default values, release "kiam".
KIAM_AGENT_CHART_DEFAULTS = ["--no-iptables-remove", "--host-interface=cali+", "--json-log",
                             "--level=info", "--port=8181", "--cert=/etc/kiam/tls/cert",
                             "--key=/etc/kiam/tls/key", "--ca=/etc/kiam/tls/ca",
                             "--server-address=kiam-server:443",
                             "--prometheus-listen-addr=0.0.0.0:9620",
                             "--prometheus-sync-interval=5s", "--gateway-timeout-creation=1s"]


def run_legacy_agent(args, env=None):
    # A region, and a closed port for the node's metadata service: nothing leaves loopback.
    env = {"NODE_NAME": "", "AWS_REGION": "us-east-1",
           "PODIAM_NODE_IMDS_ENDPOINT": "http://127.0.0.1:9", **(env or {})}
    r = run("agent", *args, "--kubeconfig", "/nonexistent", env=env)
    assert r.returncode == 1, r  # not 2: every flag parsed
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert "cannot start the agent" in lines[-1], r.stderr
    return r, lines


def warnings(lines):
    return [line for line in lines if "WARN" in line.upper() and "cannot start" not in line]


@pytest.mark.parametrize("args,env,expected_warnings,reason", [
    (KUBE2IAM_CHART_DEFAULTS, {}, ["--metrics-port=8181 is the metadata port"], "kube"),
    (KUBE2IAM_CHART_OVERRIDES, {}, [], "kube"),
    # kiam's chart sets no NODE_NAME: the values need agent.extraEnv for it.
    # kiam's --server-address selects server mode (docs/agent.md, "Server mode").
    (KIAM_AGENT_CHART_DEFAULTS, {"NODE_NAME": "node-1"},
     ["--server-address=kiam-server:443: the agent asks a podiam server",
      "--prometheus-sync-interval ignored",
      "--gateway-timeout-creation ignored"],
     "podiam server TLS"),  # the expected reason: kiam's TLS files are not there
], ids=["kube2iam-chart-defaults", "kube2iam-chart-overrides", "kiam-agent-chart-defaults"])
def test_legacy_chart_args_parse_and_warn(args, env, expected_warnings, reason):
    r, lines = run_legacy_agent(args, env)
    assert reason in lines[-1], lines[-1]  # the expected reason: no kubeconfig (or TLS files)
    found = warnings(lines)
    assert len(found) == len(expected_warnings), r.stderr
    for expected, line in zip(expected_warnings, found):
        assert expected in line, (expected, line)


def test_legacy_auto_discover_base_arn_gets_to_the_node_metadata_service():
    # kube2iam's --auto-discover-base-arn is podiam's own flag: start-up asks the node's metadata
    # service, here a closed port.
    r, lines = run_legacy_agent(KUBE2IAM_CHART_DEFAULTS + ["--auto-discover-base-arn"])
    assert "--auto-discover-base-arn" in lines[-1], lines[-1]


# Every legacy flag podiam accepts without honouring it, and a word from its warning line.
WARNED_FLAGS = [
    ("--api-server=https://10.0.0.1:6443", "--kubeconfig"),
    ("--api-token=not-logged", "--kubeconfig"),
    ("--insecure", "--kube-insecure-skip-tls-verify"),
    ("--debug", "/debug/store"),
    ("--iam-role-error-ttl=1m", "backoff"),
    ("--cache-resync-period=30m", "resourceVersion"),
    ("--resolve-duplicate-cache-ips", "newest"),
    ("--backoff-max-interval=1s", "apiserver directly"),
    ("--backoff-max-elapsed-time=2s", "apiserver directly"),
    ("--use-regional-sts-endpoint=false", "regional STS endpoint"),
    ("--auto-discover-default-role", "--default-role"),
    ("--prometheus-sync-interval=5s", "scraped"),
    ("--pprof-listen-addr=localhost:9990", "pprof"),
    ("--allow-ip-query", "source address"),
    ("--cert=/c", "calls STS itself"),
    ("--key=/k", "calls STS itself"),
    ("--ca=/a", "calls STS itself"),
    ("--server-address-refresh=10s", "calls STS itself"),
    ("--bind=0.0.0.0:443", "calls STS itself"),
    ("--session=kiam", "session-name"),
    ("--disable-strict-namespace-regexp", "anchors"),
    ("--sync=1m", "resourceVersion"),
    ("--fetchers=8", "prefetches"),
    ("--prefetch-buffer-size=1000", "prefetches"),
]


def test_each_warned_legacy_flag_logs_what_podiam_does_instead():
    args = [flag for flag, _ in WARNED_FLAGS]
    args += ["--base-role-arn=arn:aws:iam::123456789012:role/"]  # no IMDS discovery
    r, lines = run_legacy_agent(args, env={"NODE_NAME": "node-1"})
    found = warnings(lines)
    for flag, needle in WARNED_FLAGS:
        name = flag.split("=")[0]
        matching = [line for line in found if name in line and needle in line]
        assert len(matching) == 1, (flag, found)
    assert "not-logged" not in r.stderr


@pytest.mark.parametrize("level", ["panic", "fatal"])
def test_logrus_levels_mean_error(level):
    # kube2iam's --log-level takes logrus's panic and fatal; podiam logs errors only.
    r, lines = run_legacy_agent(KUBE2IAM_CHART_DEFAULTS + [f"--log-level={level}"])
    assert len(lines) == 1, r.stderr  # the metrics-port warning is below the level
