"""`podiam explain trust --check` against moto's IAM (behind the counting/fault proxy): the trust
policy podiam needs for a path, compared with the role's real AssumeRolePolicyDocument read with
IAM GetRole (issue 19: a correct trust, one missing sts:TagSession, one with a wrong `:aud`)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"  # moto's default account
ISSUER = "https://oidc.podiam.test/doctor"
HOST_PATH = ISSUER.removeprefix("https://")
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
AGENT = f"arn:aws:iam::{ACCOUNT}:role/podiam-agent"
CONTROLLER = f"arn:aws:iam::{ACCOUNT}:role/podiam-controller"


def explain_trust(sts, *args, endpoint_variable="PODIAM_IAM_ENDPOINT"):
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "moto-accepts-any-secret", endpoint_variable: sts.endpoint}
    return subprocess.run([str(podiam_binary()), "explain", "trust", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def irsa_trust(aud: str, sub: str = "system:serviceaccount:apps:web") -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{HOST_PATH}:sub": sub, f"{HOST_PATH}:aud": aud}}}]}


def agent_trust(actions: list[str]) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": AGENT}, "Action": actions}]}


@pytest.fixture(scope="module")
def roles(sts):
    iam = sts.moto.client("iam")
    docs = {
        "doctor-irsa-ok": irsa_trust("sts.amazonaws.com"),
        "doctor-irsa-wrong-aud": irsa_trust("wrong.example.com"),
        "doctor-cc-ok": agent_trust(["sts:AssumeRole", "sts:TagSession"]),
        "doctor-cc-no-tags": agent_trust(["sts:AssumeRole"]),
        "doctor-controller-no-external-id": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": CONTROLLER}, "Action": "sts:AssumeRole"}]},
    }
    for name, doc in docs.items():
        try:
            iam.delete_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            pass
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))
    return {name: f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in docs}


def irsa_args(role: str) -> list[str]:
    return ["--role", role, "--path", "irsa", "--issuer", ISSUER, "--namespace", "apps",
            "--service-account", "web", "--check", "-o", "json"]


def test_correct_irsa_trust_has_no_findings(sts, roles):
    r = explain_trust(sts, *irsa_args(roles["doctor-irsa-ok"]))
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["checked"] is True and out["findings"] == []
    # What it prints is the policy `podiam iam trust-policy` prints (the same builder).
    assert out["required_policy"] == irsa_trust("sts.amazonaws.com")
    assert sts.counts("GetRole") == 1


def test_wrong_aud_is_one_condition_finding(sts, roles):
    r = explain_trust(sts, *irsa_args(roles["doctor-irsa-wrong-aud"]))
    assert r.returncode == 1, r.stdout + r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert [f["check"] for f in findings] == ["condition"]
    assert f"{HOST_PATH}:aud" in findings[0]["detail"]
    assert "'wrong.example.com'" in findings[0]["detail"]
    assert "needs 'sts.amazonaws.com'" in findings[0]["detail"]


def test_container_credentials_without_tag_session(sts, roles):
    args = ["--path", "container-credentials", "--principal-arn", AGENT, "--check"]
    r = explain_trust(sts, "--role", roles["doctor-cc-no-tags"], *args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "NO  tag-session" in r.stdout and "sts:TagSession" in r.stdout
    assert "verdict trust: 1 finding(s)" in r.stdout
    # $AWS_ENDPOINT_URL_IAM names the endpoint as for `podiam iam` and the AWS CLI.
    r = explain_trust(sts, "--role", roles["doctor-cc-ok"], *args,
                      endpoint_variable="AWS_ENDPOINT_URL_IAM")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict trust: OK" in r.stdout


def test_controller_without_external_id(sts, roles):
    r = explain_trust(sts, "--role", roles["doctor-controller-no-external-id"], "--path",
                      "controller", "--principal-arn", CONTROLLER, "--external-id", "team-a/prod",
                      "--check", "-o", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert [f["check"] for f in findings] == ["condition"]
    assert "sts:ExternalId" in findings[0]["detail"]


def test_missing_role_and_usage_errors(sts, roles):
    r = explain_trust(sts, *irsa_args(f"arn:aws:iam::{ACCOUNT}:role/doctor-absent"))
    assert r.returncode == 1
    assert "cannot check the trust policy" in r.stderr and "NoSuchEntity" in r.stderr
    assert r.stdout == ""
    r = explain_trust(sts, "--role", roles["doctor-cc-ok"], "--path", "irsa", "--check")
    assert r.returncode == 2 and "--issuer" in r.stderr
    assert sts.counts("GetRole") == 1  # the usage error never reached IAM
