"""Self-tests of the fault proxy's response rewriting (`expire_in`) and its record of issued
credentials, which the agent fault tests (tests/e2e/test_agent_faults.py) build on."""

import datetime as dt
import json
import urllib.request

import boto3
import botocore.config
import pytest

pytestmark = pytest.mark.harness

ROLE_ARN = "arn:aws:iam::123456789012:role/team/harness"


def sts_client(endpoint):
    return boto3.session.Session().client(
        "sts", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"mode": "legacy", "total_max_attempts": 1}))


def assume(client, session="harness"):
    return client.assume_role(RoleArn=ROLE_ARN, RoleSessionName=session)["Credentials"]


def seconds_left(creds) -> float:
    return (creds["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()


def test_expire_in_rewrites_the_expiration_of_forwarded_credentials(sts):
    """The client gets moto's credentials (forwarded, counted, not faulted away) but with the
    expiry the test chose; `count` limits it like any fault, and it only ever touches answers
    that carry credentials."""
    client = sts_client(sts.endpoint)
    sts.fault("expire_in", action="AssumeRole", seconds=15 * 60 + 20, count=1)
    short = assume(client, "short")
    assert 15 * 60 + 10 <= seconds_left(short) <= 15 * 60 + 21
    assert short["AccessKeyId"].startswith("ASIA")  # moto's own keys, really issued
    normal = assume(client, "normal")
    assert seconds_left(normal) > 50 * 60  # moto's default 3600 s: the fault was used up
    assert sts.counts("AssumeRole") == 2
    assert [r["fault"] for r in sts.requests("AssumeRole")] == ["expire_in", None]

    sts.fault("expire_in", seconds=60)  # every action, until cleared
    assert seconds_left(assume(client, "minute")) <= 61
    assert client.get_caller_identity()["Account"] == "123456789012"  # no credentials: untouched
    sts.clear_faults()
    assert seconds_left(assume(client, "again")) > 50 * 60


def test_expire_in_needs_seconds_and_is_controllable_over_http(sts):
    with pytest.raises(ValueError):
        sts.fault("expire_in", action="AssumeRole")
    with pytest.raises(ValueError):
        sts.fault("throttling", seconds=5)
    req = urllib.request.Request(f"{sts.control_url}/fault", method="POST", data=json.dumps(
        {"kind": "expire_in", "action": "AssumeRole", "seconds": 600, "count": 1}).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.load(resp) == {"ok": True}
    assert sts.stats()["faults"] == [{"kind": "expire_in", "action": "AssumeRole", "count": 1,
                                      "delay": 0.0, "seconds": 600.0}]
    assert seconds_left(assume(sts_client(sts.endpoint))) <= 601


def test_issued_records_whom_each_key_was_for_and_its_served_expiry(sts):
    """`issued(key)` maps a served AccessKeyId back to its AssumeRole request (never the
    secrets), with the Expiration the client saw; faulted answers issue nothing."""
    client = sts_client(sts.endpoint)
    sts.fault("throttling", action="AssumeRole", count=1)
    with pytest.raises(client.exceptions.ClientError):
        assume(client, "throttled")
    assert sts.issued() == {}
    sts.fault("expire_in", action="AssumeRole", seconds=900, count=1)
    a = assume(client, "first")
    b = assume(client, "second")
    rec = sts.issued(a["AccessKeyId"])
    assert rec["role_arn"] == ROLE_ARN and rec["session"] == "first"
    assert rec["action"] == "AssumeRole"
    assert dt.datetime.strptime(rec["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc) == a["Expiration"].replace(microsecond=0)
    assert sts.issued(b["AccessKeyId"])["session"] == "second"
    assert sts.issued("ASIANOTISSUEDBYMOTO0") is None
    assert a["SecretAccessKey"] not in json.dumps(sts.issued())
    assert sts.stats()["issued"] == 2
    sts.reset_counts()
    assert sts.issued() == {}
