"""`podiam controller` and `podiam credential-process` on the command line: bad flags are one
line and exit 2, a start-up failure is one actionable line and exit 1, and the shipped Deployment's
arguments parse."""

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
    full_env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "x", **(env or {})}
    return subprocess.run([str(podiam_binary()), *args], capture_output=True, text=True,
                          timeout=30, env=full_env)


@pytest.mark.parametrize("args,needle", [
    (["--workers=0"], "--workers"),
    (["--resync=1s"], "--resync"),
    (["--base-role-arn=nope"], "--base-role-arn"),
    (["--metrics-listen=nowhere"], "--metrics-listen"),
    (["--leader-elect=maybe"], "--leader-elect"),
])
def test_controller_usage_errors_are_one_line_and_exit_2(args, needle):
    r = run("controller", *args)
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr, r.stderr


def test_controller_startup_error_is_one_actionable_line_and_exit_1():
    r = run("controller", "--kubeconfig", "/nonexistent", "--metrics-listen", "127.0.0.1:0",
            "--sts-endpoint", "http://127.0.0.1:9")
    assert r.returncode == 1, r
    lines = [line for line in r.stderr.splitlines() if line.strip() and "cannot start" in line]
    assert len(lines) == 1, r.stderr
    assert "kubernetes" in lines[0] and "/nonexistent" in lines[0], lines[0]


def test_shipped_deployment_arguments_parse():
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "controller" / "deployment.yaml").read_text()))
    args = docs[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "controller"
    args = [a.replace("0.0.0.0:9623", "127.0.0.1:0") for a in args]  # no fixed port on the host
    r = run(*args, "--kubeconfig", "/nonexistent")
    assert r.returncode == 1, r  # every flag parsed; it stops at the missing cluster
    assert "cannot start the controller" in r.stderr


def test_credential_process_help_names_the_file_flag():
    r = run("credential-process", "--help")
    assert r.returncode == 0 and "--file" in r.stdout, r
