"""Self-tests of moto and the counting, fault-injecting STS proxy (fixtures `moto`, `sts`)."""

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from podiam_testenv.faultproxy import STS_XMLNS

pytestmark = pytest.mark.harness

ROLE_ARN = "arn:aws:iam::123456789012:role/team/harness"


def sts_client(endpoint, attempts=1):
    return boto3.session.Session().client(
        "sts", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"mode": "legacy", "total_max_attempts": attempts}))


def assume(client, session="harness"):
    return client.assume_role(RoleArn=ROLE_ARN, RoleSessionName=session)


def control(sts, method, route, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sts.control_url}/{route}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def test_moto_roles_and_identity(moto):
    name = f"role-{uuid.uuid4().hex[:8]}"
    arn = moto.create_role(name, path="/a/b/")
    assert arn == f"arn:aws:iam::123456789012:role/a/b/{name}"
    other = moto.create_role(name, account_id="210987654321")
    assert other == f"arn:aws:iam::210987654321:role/{name}"
    creds = moto.assume_role(arn, "sess-1")
    assert creds["AccessKeyId"].startswith("ASIA")
    assert moto.caller_identity(creds)["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{name}/sess-1"


def test_proxy_forwards_and_counts(sts):
    client = sts_client(sts.endpoint)
    resp = assume(client, "counted")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::123456789012:assumed-role/harness/counted"
    client.get_caller_identity()
    client.get_caller_identity()
    assert sts.counts() == {"AssumeRole": 1, "GetCallerIdentity": 2}
    assert sts.counts("GetCallerIdentity") == 2
    [req] = sts.requests("AssumeRole")
    assert req["params"]["RoleSessionName"] == "counted" and req["fault"] is None
    sts.reset_counts()
    assert sts.counts() == {}


def test_env_vars_for_cpp_tests(sts):
    assert os.environ["PODIAM_TEST_STS_ENDPOINT"] == sts.endpoint
    assert os.environ["PODIAM_TEST_MOTO_ENDPOINT"] == sts.moto.endpoint
    assert os.environ["PODIAM_TEST_STS_CONTROL"] == sts.control_url


def test_throttling_has_sts_error_shape(sts):
    sts.fault("throttling", action="AssumeRole", count=1)
    raw = requests.post(sts.endpoint, data={"Action": "AssumeRole", "Version": "2011-06-15"}, timeout=5)
    assert raw.status_code == 400
    assert raw.text.startswith(f'<ErrorResponse xmlns="{STS_XMLNS}">')
    assert "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>" in raw.text
    assert "<RequestId>" in raw.text


def test_throttling_seen_by_botocore_and_retried(sts):
    sts.fault("throttling", action="AssumeRole", count=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        assume(sts_client(sts.endpoint))
    assert err.value.response["Error"]["Code"] == "Throttling"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # botocore's default retries get past a limited fault; every attempt is counted
    sts.fault("throttling", action="AssumeRole", count=2)
    assume(sts_client(sts.endpoint, attempts=5))
    assert sts.counts("AssumeRole") == 4
    assert sts.faulted() == {"AssumeRole": 3}


def test_fault_for_one_action_only(sts):
    sts.fault("throttling", action="AssumeRole")
    client = sts_client(sts.endpoint)
    client.get_caller_identity()
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError):
            assume(client)
    sts.clear_faults()
    assume(client)


def test_internal_error_500(sts):
    sts.fault("internal", count=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sts_client(sts.endpoint).get_caller_identity()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert err.value.response["Error"]["Code"] == "InternalFailure"


def test_access_denied(sts):
    sts.fault("access_denied", action="AssumeRole", count=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        assume(sts_client(sts.endpoint))
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert ROLE_ARN in err.value.response["Error"]["Message"]


def test_custom_error(sts):
    sts.fault("error", status=400, code="ValidationError", message="bad DurationSeconds")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        assume(sts_client(sts.endpoint))
    assert err.value.response["Error"] == {
        "Type": "Sender", "Code": "ValidationError", "Message": "bad DurationSeconds"}


def test_delay(sts):
    sts.fault("delay", delay=0.6, count=1)
    client = sts_client(sts.endpoint)
    start = time.monotonic()
    client.get_caller_identity()
    assert time.monotonic() - start >= 0.6
    start = time.monotonic()
    client.get_caller_identity()
    assert time.monotonic() - start < 0.5


def test_down_refuses_connections_until_cleared(sts):
    client = sts_client(sts.endpoint)
    client.get_caller_identity()  # leaves a kept-alive connection that 'down' must drop
    sts.fault("down")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        client.get_caller_identity()
    with pytest.raises(requests.ConnectionError):
        requests.post(sts.endpoint, data={"Action": "GetCallerIdentity"}, timeout=2)
    assert control(sts, "GET", "stats")["down"] is True  # control port stays up
    sts.clear_faults()
    client.get_caller_identity()


def test_down_for_a_duration(sts):
    sts.fault("down", duration=0.5)
    with pytest.raises(requests.ConnectionError):
        requests.get(sts.endpoint, timeout=2)
    time.sleep(0.8)
    sts_client(sts.endpoint).get_caller_identity()


def test_reset_connection(sts):
    sts.fault("reset", action="GetCallerIdentity", count=1)
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.EndpointConnectionError)):
        sts_client(sts.endpoint).get_caller_identity()
    sts_client(sts.endpoint).get_caller_identity()


def test_http_control_api(sts):
    """What C++ tests do with PODIAM_TEST_STS_CONTROL."""
    assert control(sts, "POST", "fault", {"kind": "throttling", "action": "AssumeRole", "count": 1}) == {"ok": True}
    client = sts_client(sts.endpoint)
    with pytest.raises(botocore.exceptions.ClientError):
        assume(client)
    assume(client)
    stats = control(sts, "GET", "stats")
    assert stats["counts"] == {"AssumeRole": 2} and stats["faulted"] == {"AssumeRole": 1}
    assert [r["fault"] for r in stats["requests"]] == ["throttling", None]
    control(sts, "POST", "fault", {"kind": "internal"})
    assert control(sts, "GET", "stats")["faults"][0]["kind"] == "internal"
    control(sts, "POST", "clear")
    control(sts, "POST", "reset")
    assert control(sts, "GET", "stats")["counts"] == {}
    with pytest.raises(urllib.error.HTTPError) as err:
        control(sts, "POST", "fault", {"kind": "nonsense"})
    assert err.value.code == 400
    # the proxy port answers control requests too
    assert requests.get(f"{sts.endpoint}/__proxy/stats", timeout=5).json()["total"] == 0


def test_faults_and_counts_are_fresh_per_test_a(sts):
    sts_client(sts.endpoint).get_caller_identity()
    sts.fault("throttling")  # left behind on purpose: the next test must not see it


def test_faults_and_counts_are_fresh_per_test_b(sts):
    assert sts.stats()["faults"] == [] and sts.counts() == {}
    sts_client(sts.endpoint).get_caller_identity()
