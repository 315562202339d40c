"""`podiam agent` against pods that try to get what is not theirs (issue 7, "Adversarial").

Every test here asserts the one property that matters: a pod only ever receives credentials of
its own role, for its own session (<namespace>.<pod>), and never the node's. Each test is named
in docs/security.md next to the threat it backs.
"""

import json
import threading
import time

import pytest
from podiam_testenv import paths
from podiam_testenv.imds_client import (ACCOUNT, CREDS, NODE_SECRETS, ROLE_KEY, assumed,
                                        namespace, request, run_pod)
from podiam_testenv.netns import NODE_IP

pytestmark = pytest.mark.e2e

AGENT = f"http://{NODE_IP}:8181"


def identity(sts, creds: dict) -> str:
    """Who STS (moto) says these credentials belong to."""
    return sts.moto.caller_identity({"AccessKeyId": creds["AccessKeyId"],
                                     "SecretAccessKey": creds["SecretAccessKey"],
                                     "SessionToken": creds["Token"]})["Arn"]


def no_node_secrets(*bodies: str) -> None:
    for body in bodies:
        for secret in NODE_SECRETS:
            assert secret not in body, "the node's own credentials reached a pod"


def sessions_assumed(sts, role: str) -> list[str]:
    """RoleSessionNames of the AssumeRole calls the agent made for `role`."""
    return [r["params"].get("RoleSessionName", "") for r in sts.requests("AssumeRole")
            if r["params"].get("RoleArn", "").endswith(f":role/{role}")]


def test_a_pod_asking_for_another_pods_role_by_name_gets_404(kube, pods, start_agent, sts):
    start_agent()
    ns = namespace(kube, ["role-a", "role-b"])
    pod_a, pod_b = pods(2)
    obj_a = run_pod(kube, pod_a, ns, role="role-a")
    obj_b = run_pod(kube, pod_b, ns, role="role-b")
    own = request(pod_a, "GET", CREDS + "role-a")
    assert own[0] == 200
    status, _, token = request(pod_a, "PUT", "/latest/api/token",
                               {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    v2 = {"X-aws-ec2-metadata-token": token}
    answers = {
        "v1": request(pod_a, "GET", CREDS + "role-b"),
        "v2": request(pod_a, "GET", CREDS + "role-b", v2),
        "extended": request(pod_a, "GET",
                            "/latest/meta-data/iam/security-credentials-extended/role-b", v2),
        "arn": request(pod_a, "GET", CREDS + f"arn:aws:iam::{ACCOUNT}:role/role-b"),
        "info": request(pod_a, "GET", "/latest/meta-data/iam/info"),
        "list": request(pod_a, "GET", CREDS),
    }
    for what in ("v1", "v2", "extended", "arn"):
        assert answers[what][0] == 404, (what, answers[what])
    assert answers["list"][:3:2] == (200, "role-a")
    assert "role-b" not in answers["info"][2]
    no_node_secrets(*(a[2] for a in answers.values()))
    # The agent never even assumed role-b on pod A's behalf.
    assert all(not s.endswith(obj_a["metadata"]["name"]) for s in sessions_assumed(sts, "role-b"))
    # Pod B still gets its own role, in its own session.
    creds_b = json.loads(request(pod_b, "GET", CREDS + "role-b")[2])
    assert identity(sts, creds_b) == assumed("role-b", ns, obj_b)
    assert identity(sts, json.loads(own[2])) == assumed("role-a", ns, obj_a)


def test_forged_forwarding_and_host_headers_never_change_who_is_asking(kube, pods, start_agent, sts):
    start_agent()
    ns = namespace(kube, ["role-a", "role-b"])
    pod_a, pod_b = pods(2)
    obj_a = run_pod(kube, pod_a, ns, role="role-a")
    run_pod(kube, pod_b, ns, role="role-b")
    key_a = json.loads(request(pod_a, "GET", CREDS + "role-a")[2])["AccessKeyId"]
    key_b = json.loads(request(pod_b, "GET", CREDS + "role-b")[2])["AccessKeyId"]
    forged = [
        {"Host": pod_b.ip},
        {"Host": f"{NODE_IP}:8181"},
        {"X-Forwarded-For": pod_b.ip},
        {"X-Forwarded-For": f"{pod_b.ip}, {pod_a.ip}"},
        {"X-Real-IP": pod_b.ip},
        {"Forwarded": f"for={pod_b.ip}"},
        {"X-Forwarded-Host": pod_b.ip, "X-Client-IP": pod_b.ip},
    ]
    for headers in forged:
        for role in ("role-a", "role-b"):
            status, _, body = request(pod_a, "GET", CREDS + role, headers)
            no_node_secrets(body)
            assert key_b not in body, f"pod A got pod B's credentials with {headers}"
            if "X-Forwarded-For" in headers:  # a proxy in the path: refused outright
                assert status == 403, (headers, status, body)
            elif role == "role-b":
                assert status == 404, (headers, status, body)
            else:  # any other header is ignored: the source address decides
                assert status == 200, (headers, status, body)
                creds = json.loads(body)
                assert creds["AccessKeyId"] == key_a
    assert identity(sts, json.loads(request(pod_a, "GET", CREDS + "role-a")[2])) == \
        assumed("role-a", ns, obj_a)


def test_a_host_network_pod_gets_no_credentials(kube, node, pods, start_agent, sts):
    """A hostNetwork pod's traffic comes from the node's own address, which many pods share; the
    agent must not hand any of them a role (kube2iam serves whichever pod it finds)."""
    agent = start_agent()
    ns = namespace(kube, ["*"])
    (other,) = pods(1)
    run_pod(kube, other, ns, role="ordinary")  # a normal pod on the node, so the node is busy
    host = kube.run_pod(namespace=ns, host_network=True, pod_ip=NODE_IP, host_ip=NODE_IP,
                        annotations={ROLE_KEY: "host-role"})
    assert host["status"]["podIP"] == NODE_IP
    for path in (CREDS, CREDS + "host-role", "/latest/meta-data/iam/info",
                 "/latest/meta-data/iam/security-credentials-extended/host-role"):
        r = node.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5",
                      AGENT + path], check=False)
        body, _, code = r.stdout.rpartition("\n")
        assert code != "200", (path, body)
        assert "AccessKeyId" not in body
        no_node_secrets(body)
    assert not sessions_assumed(sts, "host-role")
    assert agent.metric("podiam_imds_requests_total", code="200") == 0


def test_a_pod_cannot_borrow_a_role_only_another_namespace_permits(kube, pods, start_agent, sts):
    agent = start_agent()
    ns_x = namespace(kube, ["x-*"])
    ns_y = namespace(kube, ["y-role"])
    pod_x, pod_y, pod_arn, pod_acct = pods(4)
    run_pod(kube, pod_x, ns_x, role="y-role")
    run_pod(kube, pod_arn, ns_x, role=f"arn:aws:iam::{ACCOUNT}:role/y-role")
    run_pod(kube, pod_acct, ns_x, role="arn:aws:iam::999999999999:role/x-anything")
    obj_y = run_pod(kube, pod_y, ns_y, role="y-role")
    for pod, role in ((pod_x, "y-role"), (pod_arn, "y-role"), (pod_acct, "x-anything")):
        listed = request(pod, "GET", CREDS)
        creds = request(pod, "GET", CREDS + role)
        assert listed[0] in (403, 404) and creds[0] in (403, 404), (pod, listed, creds)
        assert "AccessKeyId" not in listed[2] + creds[2]
        no_node_secrets(listed[2], creds[2])
    # No STS call was ever made for a pod of the refusing namespace.
    assert not [r for r in sts.requests("AssumeRole")
                if r["params"].get("RoleSessionName", "").startswith(ns_x + ".")]
    assert agent.metric("podiam_agent_role_decisions_total", outcome="denied") >= 3
    # The namespace that does permit it is served.
    creds = json.loads(request(pod_y, "GET", CREDS + "y-role")[2])
    assert identity(sts, creds) == assumed("y-role", ns_y, obj_y)


def test_an_annotation_change_takes_effect_and_the_old_role_stops_being_served(
        kube, pods, start_agent, sts):
    start_agent()
    ns = namespace(kube, ["before", "after"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="before")
    name = obj["metadata"]["name"]
    old = json.loads(request(pod, "GET", CREDS + "before")[2])
    path = f"/api/v1/namespaces/{ns}/pods/{name}"
    kube.rest.patch(path, {"metadata": {"annotations": {ROLE_KEY: "after"}}})
    deadline = time.monotonic() + 15
    listed = None
    while time.monotonic() < deadline:
        listed = request(pod, "GET", CREDS)
        if listed[:3:2] == (200, "after"):
            break
        time.sleep(0.1)
    assert listed[:3:2] == (200, "after"), listed
    stale = request(pod, "GET", CREDS + "before")
    assert stale[0] == 404, stale
    assert old["AccessKeyId"] not in stale[2]
    new = json.loads(request(pod, "GET", CREDS + "after")[2])
    assert new["AccessKeyId"] != old["AccessKeyId"]
    assert identity(sts, new) == assumed("after", ns, obj)
    # Removing the annotation removes the role.
    kube.rest.patch(path, {"metadata": {"annotations": {ROLE_KEY: None}}})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and request(pod, "GET", CREDS)[0] == 200:
        time.sleep(0.1)
    gone = request(pod, "GET", CREDS + "after")
    assert request(pod, "GET", CREDS)[0] == 404 and gone[0] == 404, gone
    assert new["AccessKeyId"] not in gone[2]


CHURN_REQUESTER = """
import http.client, json, sys, time
end = time.time() + float(sys.argv[1])
log = []
def get(path):
    c = http.client.HTTPConnection("169.254.169.254", 80, timeout=3)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    except OSError as e:
        return 0, str(e)
    finally:
        c.close()
while time.time() < end:
    t0 = time.time()
    status, role = get("/latest/meta-data/iam/security-credentials/")
    entry = {"t0": t0, "list": status}
    if status == 200:
        entry["role"] = role
        status, body = get("/latest/meta-data/iam/security-credentials/" + role)
        entry["creds"] = status
        if status == 200:
            entry["creds_doc"] = json.loads(body)
    entry["t1"] = time.time()
    log.append(entry)
    time.sleep(0.02)
print(json.dumps(log))
"""


def test_ip_reuse_under_churn_never_serves_a_previous_owners_credentials(
        kube, pods, start_agent, sts):
    """One network namespace (one IP) passes from pod to pod, each with its own role, while a
    workload in it asks continuously and another pod asks steadily next to it. Every answer must
    be the credentials of a pod that owned the IP, in order, never an earlier owner's once the
    next one has been served, and never the steady pod's or anyone else's."""
    start_agent()
    ns = namespace(kube, ["gen-*", "steady"])
    churn, steady = pods(2)
    steady_obj = run_pod(kube, steady, ns, role="steady")
    generations = 6
    seconds = generations * 2.5 + 4
    logs = {}

    def requester(pod, key):
        r = pod.run([str(paths.PYTHON), "-c", CHURN_REQUESTER, str(seconds)],
                    timeout=seconds + 60)
        logs[key] = json.loads(r.stdout)

    threads = [threading.Thread(target=requester, args=(p, k))
               for p, k in ((churn, "churn"), (steady, "steady"))]
    for t in threads:
        t.start()
    owners = []  # (generation, pod object, time its IP was set, time it was deleted)
    try:
        for g in range(generations):
            obj = run_pod(kube, churn, ns, role=f"gen-{g}", name=f"churn-{g}")
            created = time.time()
            time.sleep(2.0)
            kube.delete_pod(obj["metadata"]["name"], namespace=ns)
            owners.append((g, obj, created, time.time()))
            time.sleep(0.3)  # the IP is free for a moment, as between two real pods
    finally:
        for t in threads:
            t.join(seconds + 90)
    assert set(logs) == {"churn", "steady"}

    # Who do the keys belong to? Ask STS (moto) itself.
    sessions = {}
    for key in ("churn", "steady"):
        for entry in logs[key]:
            doc = entry.get("creds_doc")
            if doc and doc["AccessKeyId"] not in sessions:
                no_node_secrets(json.dumps(doc))
                sessions[doc["AccessKeyId"]] = identity(sts, doc)

    expected = {f"gen-{g}": assumed(f"gen-{g}", ns, obj) for g, obj, _, _ in owners}
    served = []
    for entry in logs["churn"]:
        doc = entry.get("creds_doc")
        if not doc:
            continue
        arn = sessions[doc["AccessKeyId"]]
        assert arn == expected.get(entry["role"]), f"{entry['role']} answered with {arn}"
        served.append((entry["t0"], int(entry["role"].split("-")[1])))
    assert served, "the churning pod was never served"
    # Generations are served in order: once g+1 has been seen, g never comes back.
    gens = [g for _, g in served]
    assert gens == sorted(gens), f"an earlier owner's credentials came back: {gens}"
    assert len(set(gens)) >= generations - 1, f"owners served: {sorted(set(gens))}"
    # No owner is served for a request that began well after it was deleted (a generous 5 s for
    # the watch to deliver the deletion on a loaded machine).
    deleted = {g: gone for g, _, _, gone in owners}
    late = [(t0 - deleted[g], g) for t0, g in served if t0 > deleted[g] + 5]
    assert not late, f"served long after deletion: {late}"

    steady_arns = {sessions[e["creds_doc"]["AccessKeyId"]] for e in logs["steady"]
                   if e.get("creds_doc")}
    assert steady_arns == {assumed("steady", ns, steady_obj)}
    assert all(e["list"] == 200 and e.get("creds") == 200 for e in logs["steady"]), \
        [e for e in logs["steady"] if e.get("creds") != 200][:3]


def test_requests_for_instance_data_and_node_credentials_never_return_them(kube, pods, start_agent):
    start_agent()
    ns = namespace(kube, ["app"])
    (pod,) = pods(1)
    run_pod(kube, pod, ns, role="app")
    own_key = json.loads(request(pod, "GET", CREDS + "app")[2])["AccessKeyId"]
    refused = [
        "/latest/user-data", "/latest/user-data/",
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/meta-data/identity-credentials/ec2/info",
        "/latest/dynamic/instance-identity/signature",
        "/latest/meta-data/iam/security-credentials/ec2-instance",
        "/latest/meta-data/iam/security-credentials/app/../../../user-data",
        "/latest/meta-data/iam/security-credentials/..%2f..%2fuser-data",
        "/latest/meta-data/iam/security-credentials/%2e%2e/%2e%2e/user-data",
        "/latest/meta-data/iam/security-credentials/app%2f..%2fadmin",
        "/latest/meta-data/iam/security-credentials/app/extra",
        "/latest/meta-data/iam/security-credentials/*",
        "/latest/meta-data/iam/security-credentials/%00",
        "/LATEST/META-DATA/IAM/SECURITY-CREDENTIALS/app",
        "/2009-04-04/meta-data/iam/security-credentials/admin",
        "/latest/meta-data/public-keys/0/openssh-key",
        "/latest/meta-data/network/interfaces/macs/",
        "//latest/user-data",
        "http://169.254.169.254/latest/user-data",
        "*",
    ]
    for path in refused:
        status, _, body = request(pod, "GET", path)
        assert status in (400, 403, 404), (path, status, body)
        assert "AccessKeyId" not in body and "SecretAccessKey" not in body, path
        no_node_secrets(body)
    # The region documents of the default allow-list (docs/security.md, "Metadata paths") go to
    # the node's metadata service (none in this test, so usually 502): never credentials.
    for path in ("/latest/dynamic/instance-identity/document",
                 "/latest/meta-data/placement/availability-zone"):
        status, _, body = request(pod, "GET", path)
        assert status in (200, 404, 502), (path, status, body)
        assert "AccessKeyId" not in body and "SecretAccessKey" not in body, path
        no_node_secrets(body)
    # Spellings that do name the pod's own role may answer, but only with its own credentials.
    for path in (CREDS + "app?x=1", "/latest/meta-data/iam/security-credentials//app",
                 "/latest/meta-data/iam/security-credentials-extended/app"):
        status, _, body = request(pod, "GET", path)
        no_node_secrets(body)
        if status == 200:
            assert json.loads(body)["AccessKeyId"] == own_key, path
