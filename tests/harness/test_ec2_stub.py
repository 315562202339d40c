"""Self-test of the EC2 stub the kube2iam benchmark peer needs (podiam_testenv.ec2_stub): an
unmodified AWS SDK's DescribeRegions gets an empty region list, anything else an EC2 error."""

import boto3
import botocore.config
import botocore.exceptions
import pytest

from podiam_testenv.ec2_stub import Ec2Stub
from podiam_testenv.netns import HttpServer

pytestmark = pytest.mark.harness


def test_describe_regions_answers_an_empty_list():
    stub = Ec2Stub()
    server = HttpServer(Ec2Stub.Handler, "127.0.0.1", 0, owner=stub)
    try:
        ec2 = boto3.session.Session().client(
            "ec2", region_name="us-east-1", endpoint_url=server.url,
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret",
            config=botocore.config.Config(retries={"mode": "legacy", "total_max_attempts": 1}))
        assert ec2.describe_regions()["Regions"] == []
        with pytest.raises(botocore.exceptions.ClientError) as err:
            ec2.describe_instances()
        assert err.value.response["Error"]["Code"] == "InvalidAction"
        assert stub.counts() == {"DescribeRegions": 1, "DescribeInstances": 1}
    finally:
        server.close()
