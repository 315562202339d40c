"""`podiam agent` end to end: unmodified AWS SDKs in pod network namespaces get their own pod's
role over the EC2 metadata protocol, and nothing else (issue: podiam agent, "What it must show")."""

import json
import threading
import time

import pytest
from podiam_testenv.imds_client import (ACCOUNT, NO_CREDENTIALS_PY, ROLE_KEY, WHOAMI_PY, assumed,
                                        namespace, raw, run_pod)

pytestmark = pytest.mark.e2e


def test_boto3_gets_its_pods_role_with_a_session_naming_the_pod(kube, pods, start_agent):
    agent = start_agent()
    ns = namespace(kube, ["app-a"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app-a")
    arn = json.loads(pod.python(WHOAMI_PY).stdout)
    assert arn == assumed("app-a", ns, obj)
    assert agent.metric("podiam_imds_requests_total", route="credentials", code="200") >= 1
    assert agent.metric("podiam_imds_tokens_issued_total") >= 1  # boto3 used IMDSv2


def test_aws_cli_and_javascript_sdk_get_their_pods_role(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["app-b"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app-b")
    cli = json.loads(pod.aws_cli(["sts", "get-caller-identity", "--output", "json"]).stdout)
    assert cli["Arn"] == assumed("app-b", ns, obj)
    js = json.loads(pod.node_js("whoami.mjs").stdout)
    assert js["Arn"] == assumed("app-b", ns, obj)


def test_pod_without_role_gets_no_credentials_never_the_nodes(kube, pods, start_agent):
    agent = start_agent()
    ns = namespace(kube, ["*"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns)
    assert pod.python(NO_CREDENTIALS_PY).stdout.strip() == "none"
    out = raw(pod, "out['list'] = call('GET', '/latest/meta-data/iam/security-credentials/')[:2]")
    assert out["list"][0] == 404
    assert "node-agent-secret" not in json.dumps(out)
    assert agent.metric("podiam_imds_rejections_total", reason="no_role") >= 1


def test_role_not_permitted_is_refused_and_an_event_is_on_the_pod(kube, pods, start_agent, sts):
    agent = start_agent()
    ns = namespace(kube, ["only-this"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="admin")
    assert pod.python(NO_CREDENTIALS_PY).stdout.strip() == "none"
    out = raw(pod, "out['creds'] = call('GET', '/latest/meta-data/iam/security-credentials/admin')[:2]")
    assert out["creds"][0] == 403
    assert "namespace policy refuses" in out["creds"][1]
    assert sts.counts("AssumeRole") == 0
    name = obj["metadata"]["name"]
    deadline = time.monotonic() + 15
    events = []
    while time.monotonic() < deadline:
        events = kube.rest.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
        events += kube.rest.get(f"/api/v1/namespaces/{ns}/events")["items"]
        if any(e.get("regarding", e.get("involvedObject", {})).get("name") == name for e in events):
            break
        time.sleep(0.2)
    mine = [e for e in events if e.get("regarding", e.get("involvedObject", {})).get("name") == name]
    assert mine, f"no Event on {name}: {events}"
    assert mine[0]["reason"] == "IAMRoleDenied"
    assert agent.metric("podiam_agent_role_decisions_total", outcome="denied") >= 1


def test_reused_ip_never_gets_the_old_pods_role(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["old-role", "new-role"])
    (pod,) = pods(1)
    old = run_pod(kube, pod, ns, role="old-role")
    assert json.loads(pod.python(WHOAMI_PY).stdout) == assumed("old-role", ns, old)
    kube.delete_pod(old["metadata"]["name"], namespace=ns)
    new = run_pod(kube, pod, ns, role="new-role")
    # A fresh SDK in the same network namespace: the new pod, the same IP.
    deadline = time.monotonic() + 10
    arn = None
    while time.monotonic() < deadline:
        arn = json.loads(pod.python(WHOAMI_PY).stdout)
        assert arn != assumed("old-role", ns, old), "the new pod received the old pod's role"
        if arn == assumed("new-role", ns, new):
            break
        time.sleep(0.2)
    assert arn == assumed("new-role", ns, new)


def test_token_rules(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    out = raw(pod, """
T = {'X-aws-ec2-metadata-token-ttl-seconds': '1'}
out['xff_put'] = call('PUT', '/latest/api/token', dict(T, **{'X-Forwarded-For': '10.9.9.9'}))[0]
out['xff_get'] = call('GET', '/latest/meta-data/iam/security-credentials/', {'X-Forwarded-For': '1.2.3.4'})[0]
out['bad'] = call('GET', '/latest/meta-data/iam/security-credentials/', {'X-aws-ec2-metadata-token': 'forged'})[0]
status, token, headers = call('PUT', '/latest/api/token', T)
out['put'] = status
out['ttl'] = {k.lower(): v for k, v in headers.items()}.get('x-aws-ec2-metadata-token-ttl-seconds')
out['fresh'] = call('GET', '/latest/meta-data/iam/security-credentials/', {'X-aws-ec2-metadata-token': token})[:2]
import time; time.sleep(2.1)
out['expired'] = call('GET', '/latest/meta-data/iam/security-credentials/', {'X-aws-ec2-metadata-token': token})[0]
out['bad_ttl'] = call('PUT', '/latest/api/token', {'X-aws-ec2-metadata-token-ttl-seconds': '0'})[0]
""")
    assert out["xff_put"] == 403
    assert out["xff_get"] == 403
    assert out["bad"] == 401
    assert out["put"] == 200 and out["ttl"] == "1"
    assert out["fresh"] == [200, "app"]
    assert out["expired"] == 401
    assert out["bad_ttl"] == 400


def test_imdsv1_deny_requires_a_token(kube, pods, start_agent):
    start_agent("--imdsv1", "deny")
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="app")
    out = raw(pod, "out['v1'] = call('GET', '/latest/meta-data/iam/security-credentials/')[0]")
    assert out["v1"] == 401
    assert json.loads(pod.python(WHOAMI_PY).stdout) == assumed("app", ns, obj)  # IMDSv2 works


def test_user_data_and_unknown_paths_are_404_and_extended_is_never_proxied(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    out = raw(pod, """
for p in ['/latest/user-data', '/latest/meta-data/', '/latest/meta-data/hostname',
          '/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance',
          '/latest/meta-data/iam/security-credentials/someone-else', '/nope']:
    out[p] = call('GET', p)[0]
out['extended'] = call('GET', '/latest/meta-data/iam/security-credentials-extended/app')[:2]
""")
    for path in ["/latest/user-data", "/latest/meta-data/", "/latest/meta-data/hostname",
                 "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
                 "/latest/meta-data/iam/security-credentials/someone-else", "/nope"]:
        assert out[path] == 404, path
    status, body = out["extended"]
    assert status == 200
    assert json.loads(body)["AccountId"] == ACCOUNT


def test_a_job_asking_the_moment_its_ip_is_set_gets_its_role_first_try(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["job"])
    (pod,) = pods(1)
    created = kube.create_pod(namespace=ns, annotations={ROLE_KEY: "job"}, node=kube.node)
    name = created["metadata"]["name"]
    # The SDK starts in the same instant the kubelet reports the IP; one attempt, 1 s timeout.
    result = {}
    sdk = threading.Thread(target=lambda: result.update(out=pod.python(
        WHOAMI_PY, env={"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1"}, check=False)))
    kube.set_pod_status(name, pod_ip=pod.ip, namespace=ns)
    sdk.start()
    sdk.join(60)
    proc = result["out"]
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == f"arn:aws:sts::{ACCOUNT}:assumed-role/job/{ns}.{name}"


def test_ten_pods_one_role_thousand_requests_cost_one_sts_call_per_session(kube, pods, start_agent, sts):
    agent = start_agent()
    ns = namespace(kube, ["shared"])
    netns_pods = pods(10)
    for pod in netns_pods:
        run_pod(kube, pod, ns, role="shared")
    script = """
for i in range(100):
    s, b, _ = call('GET', '/latest/meta-data/iam/security-credentials/shared')
    assert s == 200, (s, b)
    out['key'] = json.loads(b)['AccessKeyId']
"""
    keys = set()
    for pod in netns_pods:
        keys.add(raw(pod, script)["key"])
    assert len(keys) == 10  # one session per pod: CloudTrail tells them apart
    assert sts.counts("AssumeRole") == 10
    assert agent.metric("podiam_imds_requests_total", route="credentials", code="200") == 1000


def test_ops_endpoints_and_metrics_pass_promtool(kube, pods, start_agent, tmp_path):
    import subprocess
    agent = start_agent()
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    pod.python(WHOAMI_PY)  # some traffic, so every family has series
    assert agent.ops("/healthz")[0] == 200
    assert agent.ops("/readyz")[0] == 200
    text = agent.metrics()
    for family in ("podiam_imds_requests_total", "podiam_sts_calls_total", "podiam_creds_entries",
                   "podiam_k8s_requests_total", "podiam_http_server_requests_total",
                   "process_resident_memory_bytes"):
        assert f"# TYPE {family} " in text, family
    scrape = tmp_path / "metrics.txt"
    scrape.write_text(text)
    check = subprocess.run(["promtool", "check", "metrics"], stdin=scrape.open(),
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
