"""`podiam agent`: metadata versions and non-credential paths (issue 13, defect 7).

A pod gets its own role through a dated version path, as kube2iam served it; the few documents
SDKs read for region discovery come from the node's own metadata service (a stub on
169.254.169.254 in the node namespace) without any flag; user-data, signed identity documents
and every case or encoding trick are 404 and never reach the node's metadata service. Each test
is named in docs/security.md ("Metadata paths") or docs/agent.md.
"""

import json

import pytest
from podiam_testenv.imds_client import ACCOUNT, CREDS, NODE_SECRETS, namespace, request, run_pod
from podiam_testenv.imds_stub import ImdsStub
from podiam_testenv.netns import IMDS_IP, HttpServer, ip

pytestmark = pytest.mark.e2e

REGION_PY = """
from botocore.utils import InstanceMetadataRegionFetcher
print(InstanceMetadataRegionFetcher(timeout=2, num_attempts=1).retrieve_region())
"""


def node_imds(node, region: str) -> ImdsStub:
    """The node's own metadata service, serving the node's (never a pod's) role."""
    stub = ImdsStub(role="node-role", region=region, credentials={
        "AccessKeyId": NODE_SECRETS[0], "SecretAccessKey": NODE_SECRETS[1],
        "SessionToken": "node-token", "Expiration": "2099-01-01T00:00:00Z"})
    ip(netns=node.name, batch=f"addr replace {IMDS_IP}/32 dev lo\n")
    node._closing(HttpServer(ImdsStub.Handler, IMDS_IP, 80, node.name, owner=stub))
    return stub


def test_dated_versions_serve_the_pods_own_role(kube, pods, start_agent, sts):
    start_agent()
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app")
    status, _, token = request(pod, "PUT", "/latest/api/token",
                               {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    v2 = {"X-aws-ec2-metadata-token": token}
    keys = set()
    for version in ("2016-09-02", "2012-01-12", "1.0", "2022-09-24", "latest"):
        base = f"/{version}/meta-data/iam/security-credentials/"
        status, _, name = request(pod, "GET", base, v2)
        assert (status, name) == (200, "app"), (version, status, name)
        status, _, body = request(pod, "GET", base + name, v2)
        assert status == 200, (version, status, body)
        creds = json.loads(body)
        arn = sts.moto.caller_identity({"AccessKeyId": creds["AccessKeyId"],
                                        "SecretAccessKey": creds["SecretAccessKey"],
                                        "SessionToken": creds["Token"]})["Arn"]
        assert arn == (f"arn:aws:sts::{ACCOUNT}:assumed-role/app/"
                       f"{ns}.{obj['metadata']['name']}"), version
        keys.add(creds["AccessKeyId"])
        status, _, body = request(pod, "GET", f"/{version}/meta-data/iam/security-credentials"
                                              "-extended/app", v2)
        assert status == 200 and json.loads(body)["AccountId"] == ACCOUNT, (version, body)
        assert request(pod, "GET", base + "admin", v2)[0] == 404, version
    assert len(keys) == 1  # one cached session, whatever the version
    for path in ("/2006-12-31/meta-data/iam/security-credentials/app",
                 "/2016-02-30/meta-data/iam/security-credentials/app",
                 "/LATEST/meta-data/iam/security-credentials/app",
                 "/2016-09-02/api/token"):
        assert request(pod, "GET", path, v2)[0] == 404, path


def test_region_documents_come_from_the_node_and_nothing_else_reaches_it(
        kube, pods, start_agent, node):
    stub = node_imds(node, region="eu-west-3")
    agent = start_agent()  # no --allow-metadata-path: the default allow-list only
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")

    status, _, body = request(pod, "GET", "/latest/meta-data/placement/region")
    assert (status, body) == (200, "eu-west-3")
    status, _, body = request(pod, "GET", "/latest/meta-data/placement/availability-zone/")
    assert (status, body) == (200, "eu-west-3a")
    # botocore's own IMDS region fetcher (token PUT, then availability-zone/), inside the pod.
    assert pod.python(REGION_PY).stdout.strip() == "eu-west-3"

    refused = [
        "/latest/user-data", "/latest/user-data/", "/2016-09-02/user-data",
        "/latest/dynamic/instance-identity/pkcs7", "/2016-09-02/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/signature", "/latest/dynamic/instance-identity/rsa2048",
        "/latest/meta-data/hostname", "/latest/meta-data/placement/availability-zone-id",
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/meta-data/iam/security-credentials/node-role",
        "/LATEST/meta-data/placement/region", "/latest/META-DATA/placement/region",
        "/latest/meta-data/placement/Region", "/latest/meta-data/placement/%72egion",
        "/latest/meta-data/placement/%2e%2e/%2e%2e/user-data", "/latest/%2e%2e/user-data",
        "/latest/./meta-data/placement/region", "/latest/meta-data//placement/region",
        "//latest/meta-data/placement/region", "/latest/meta-data/placement/../../user-data",
        "/latest/meta-data/placement/region//", "/", "/latest", "/latest/meta-data/",
        "/latest/dynamic/", "/2006-12-31/meta-data/placement/region",
    ]
    for path in refused:
        status, _, body = request(pod, "GET", path)
        assert status == 404, (path, status, body)
        assert all(secret not in body for secret in NODE_SECRETS), path
    gets = stub.paths_requested("GET")
    assert gets == ["/latest/meta-data/placement/region",
                    "/latest/meta-data/placement/availability-zone/",
                    "/latest/meta-data/placement/availability-zone/"], gets
    refusals = sum(agent.metric("podiam_imds_rejections_total", reason=reason)
                   for reason in ("path_not_allowed", "wrong_role"))  # wrong_role: node-role
    assert refusals >= len(refused)


def test_allow_all_never_opens_user_data_signed_identity_or_tricks(kube, pods, start_agent, node):
    stub = node_imds(node, region="eu-west-3")
    start_agent("--allow-metadata-path", ".*")
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    status, _, body = request(pod, "GET", "/2016-09-02/meta-data/placement/region")
    assert status == 404  # passed through: the stub knows only /latest, and says 404 itself
    for path in ("/latest/user-data", "/2016-09-02/dynamic/instance-identity/pkcs7",
                 "/latest/dynamic/instance-identity/signature",
                 "/LATEST/meta-data/IAM/security-credentials/node-role",
                 "/latest/meta-data/IAM/info", "/latest/meta-data/%69am/info",
                 "/latest/%2e%2e/user-data", "/latest/./user-data", "//latest/user-data",
                 "/latest/meta-data/identity-credentials/ec2/info", "/latest/api/token"):
        status, _, body = request(pod, "GET", path)
        assert status in (404, 405), (path, status, body)
        assert all(secret not in body for secret in NODE_SECRETS), path
    assert stub.paths_requested("GET") == ["/2016-09-02/meta-data/placement/region"]
