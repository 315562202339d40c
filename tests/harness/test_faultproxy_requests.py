"""Self-tests of the fault proxy's record of requests: every parameter of a request and the
access key id it was signed with, which tests/e2e/test_agent_features.py builds on (ExternalId,
session Tags, SourceIdentity, and which credentials signed a chained AssumeRole)."""

import http.client
import json
from urllib.parse import urlsplit

import boto3
import botocore.config
import pytest

pytestmark = pytest.mark.harness

ROLE_ARN = "arn:aws:iam::123456789012:role/team/harness"


def sts_client(endpoint, key="AKIAIOSFODNN7EXAMPLE", secret="secret", token=None):
    return boto3.session.Session().client(
        "sts", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=botocore.config.Config(retries={"mode": "legacy", "total_max_attempts": 1}))


def test_requests_record_every_parameter_and_the_signing_key_id(sts):
    client = sts_client(sts.endpoint)
    creds = client.assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="recorded", ExternalId="ext-42",
        SourceIdentity="src.identity", Tags=[{"Key": "team", "Value": "a b"},
                                             {"Key": "empty", "Value": ""}])["Credentials"]
    chained = sts_client(sts.endpoint, creds["AccessKeyId"], creds["SecretAccessKey"],
                         creds["SessionToken"])
    chained.get_caller_identity()

    [req] = sts.requests("AssumeRole")
    assert req["key_id"] == "AKIAIOSFODNN7EXAMPLE"
    params = req["params"]
    assert params["ExternalId"] == "ext-42" and params["SourceIdentity"] == "src.identity"
    assert (params["Tags.member.1.Key"], params["Tags.member.1.Value"]) == ("team", "a b")
    assert (params["Tags.member.2.Key"], params["Tags.member.2.Value"]) == ("empty", "")
    [who] = sts.requests("GetCallerIdentity")
    assert who["key_id"] == creds["AccessKeyId"]  # signed with the issued session's key
    assert sts.issued(who["key_id"])["role_arn"] == ROLE_ARN
    # Never the secret, the session token or the signature.
    text = json.dumps(sts.requests()) + json.dumps(sts.stats())
    assert creds["SecretAccessKey"] not in text and creds["SessionToken"] not in text
    assert "Signature=" not in text


def test_an_unsigned_request_has_no_key_id(sts):
    url = urlsplit(sts.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("POST", "/", body="Action=GetCallerIdentity&Version=2011-06-15",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    conn.getresponse().read()
    conn.close()
    [req] = sts.requests("GetCallerIdentity")
    assert req["key_id"] is None
    assert sts.stats()["requests"][-1]["key_id"] is None
