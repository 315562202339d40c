"""`podiam agent` features no other E2E test exercised (issue 13): kiam's and kube2iam's namespace
dialects, the ServiceAccount and --default-role fallbacks, base ARNs with a path, roles in other
accounts, external IDs, session tags, SourceIdentity, an intermediate role (--assume-role) and
--iptables-remove-on-exit.

Each test goes end to end: a pod network namespace asks the DNAT'd metadata address (with boto3
or the repo's raw IMDS client), and what was served is checked at moto (GetCallerIdentity) and at
the counting proxy in front of it (`sts.requests()`: every AssumeRole parameter and the key id
that signed it; `sts.issued(key)`: which RoleArn a served key was issued for).

Nothing here depends on timing: every wait polls with a generous deadline, so the suite also
passes against the ASan+UBSan build on a busy machine. Session names are only checked to start
with `<namespace>.<pod>`.
"""

from __future__ import annotations

import json
import time

import pytest
from podiam_testenv import agent as agent_mod
from podiam_testenv.agent import AGENT_PORT
from podiam_testenv.imds_client import (ACCOUNT, ALLOWED, CREDS, NODE_SECRETS, ROLE_KEY,
                                        WHOAMI_PY, namespace, request, run_pod)
from podiam_testenv.netns import IMDS_IP, NODE_IP

pytestmark = pytest.mark.e2e

PERMITTED = "iam.amazonaws.com/permitted"
EXTERNAL_ID = "iam.amazonaws.com/external-id"
BASE = f"arn:aws:iam::{ACCOUNT}:role/"
NODE_KEY = "AKIAIOSFODNN7EXAMPLE"  # the agent's own access key id (agent.py)
WAIT = 60  # seconds: generous, for the sanitized build on a shared machine


# -- helpers ----------------------------------------------------------------------------------
def poll(what: str, fn, timeout: float = WAIT, interval: float = 0.2):
    """fn() until it returns something truthy; that value. Fails with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except OSError as e:  # e.g. a connection refused while the agent (re)starts
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def answer(pod, path: str = CREDS) -> tuple[int, str]:
    status, _, body = request(pod, "GET", path)
    for secret in NODE_SECRETS:
        assert secret not in body, "the node's own credentials reached a pod"
    return status, body


def wait_role(pod, role_name: str) -> None:
    """Until the agent lists `role_name` as the pod's role (it knows the pod and its decision)."""
    poll(f"{pod} to be listed {role_name!r}", lambda: answer(pod) == (200, role_name))


def credentials(pod, role_name: str) -> dict:
    """The credentials the agent serves `pod` on the legacy IMDS path (after it lists the role)."""
    wait_role(pod, role_name)
    # Normally prefetched; polled anyway in case STS is slow (a 503 until the first answer).
    _, body = poll(f"{pod}'s credentials for {role_name!r}", lambda: (
        (a := answer(pod, CREDS + role_name))[0] == 200 and a))
    return json.loads(body)


def refused(pod) -> str:
    """Until the pod's listing is a 403 (the namespace refuses its role): that body."""
    status, body = poll(f"{pod}'s listing to be refused", lambda: (
        (s := answer(pod))[0] == 403 and s))
    assert "AccessKeyId" not in body
    return body


def identity(sts, creds: dict) -> dict:
    """Who moto says these served credentials belong to (GetCallerIdentity)."""
    return sts.moto.caller_identity({"AccessKeyId": creds["AccessKeyId"],
                                     "SecretAccessKey": creds["SecretAccessKey"],
                                     "SessionToken": creds["Token"]})


def sdk_identity(pod) -> str:
    """The ARN boto3's default chain in the pod resolves to (IMDS → agent → moto)."""
    return json.loads(pod.python(WHOAMI_PY).stdout)


def session_of(obj: dict) -> str:
    return f"{obj['metadata']['namespace']}.{obj['metadata']['name']}"


def assert_assumed(arn: str, role_name: str, obj: dict, account: str = ACCOUNT) -> None:
    """An assumed-role ARN for `role_name` whose session starts with <namespace>.<pod>."""
    prefix = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_of(obj)}"
    assert arn.startswith(prefix), f"{arn} is not {prefix}…"


def assume_requests(sts, obj: dict) -> list[dict]:
    """Parameters of the AssumeRole requests the agent sent for this pod's session."""
    return [r for r in sts.requests("AssumeRole")
            if r["params"].get("RoleSessionName", "").startswith(session_of(obj))]


def assumed_for_pods(sts, ns: str) -> list[dict]:
    return [r for r in sts.requests("AssumeRole")
            if r["params"].get("RoleSessionName", "").startswith(ns + ".")]


def tags_of(params: dict) -> dict:
    """The session tags of an AssumeRole request (Tags.member.N.Key/Value, N from 1)."""
    tags, i = {}, 1
    while f"Tags.member.{i}.Key" in params:
        tags[params[f"Tags.member.{i}.Key"]] = params.get(f"Tags.member.{i}.Value")
        i += 1
    return tags


def wait_denied_event(kube, obj: dict) -> dict:
    """The Event the agent records on a pod whose role is refused."""
    ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]

    def find():
        events = kube.rest.get(f"/apis/events.k8s.io/v1/namespaces/{ns}/events")["items"]
        events += kube.rest.get(f"/api/v1/namespaces/{ns}/events")["items"]
        return [e for e in events
                if e.get("regarding", e.get("involvedObject", {})).get("name") == name]

    return poll(f"an Event on {ns}/{name}", find)[0]


def create_namespace(kube, **annotations) -> str:
    return kube.create_namespace(annotations=annotations or None)["metadata"]["name"]


def dnat_rules(node) -> int:
    """How many nat rules send the metadata address to the agent."""
    target = f"--to-destination {NODE_IP}:{AGENT_PORT}"
    return sum(1 for line in node.nat_rules().splitlines() if IMDS_IP in line and target in line)


# -- 1. kiam's namespace annotation -------------------------------------------------------------
def test_kiam_permitted_is_an_anchored_regexp_on_the_full_role_arn(kube, pods, start_agent, sts):
    """`iam.amazonaws.com/permitted` alone (no kube2iam list): a role whose full ARN matches is
    served; one that does not is refused (403 listing, Warning Event IAMRoleDenied, no STS call).
    Anchored at both ends: `…role/kiam-(app|web)` does not allow `kiam-app-admin`, and a pattern
    written as a bare name matches no full ARN."""
    agent = start_agent()
    ns = create_namespace(kube, **{PERMITTED: rf"arn:aws:iam::{ACCOUNT}:role/kiam-(app|web)"})
    bare = create_namespace(kube, **{PERMITTED: "kiam-app"})
    ok, admin, other, short = pods(4)
    obj = run_pod(kube, ok, ns, role="kiam-app")
    denied = [run_pod(kube, admin, ns, role="kiam-app-admin"),
              run_pod(kube, other, ns, role="other-app"),
              run_pod(kube, short, bare, role="kiam-app")]

    creds = credentials(ok, "kiam-app")
    assert_assumed(identity(sts, creds)["Arn"], "kiam-app", obj)
    assert sts.issued(creds["AccessKeyId"])["role_arn"] == BASE + "kiam-app"
    assert_assumed(sdk_identity(ok), "kiam-app", obj)

    for pod, pod_obj in zip((admin, other, short), denied):
        body = refused(pod)
        assert PERMITTED in body and "does not match" in body, body
        event = wait_denied_event(kube, pod_obj)
        assert event["reason"] == "IAMRoleDenied" and event["type"] == "Warning", event
        assert not assume_requests(sts, pod_obj), "an STS call for a refused role"
    assert agent.metric("podiam_agent_role_decisions_total", outcome="denied") >= 3


# -- 2. kube2iam's list with --namespace-restriction-format=regexp ------------------------------
def test_regexp_allowed_roles_are_anchored(kube, pods, start_agent, sts):
    """`--namespace-restriction-format=regexp`: each entry of the allowed-roles JSON list is a
    regexp (relative to the base ARN unless it is an ARN). Matching entries are served; podiam
    anchors them, so `app-role` allows neither `app-role-admin` nor `my-app-role` (kube2iam's
    unanchored match would allow both)."""
    start_agent("--namespace-restriction-format", "regexp")
    ns = namespace(kube, ["app-role", "batch-[0-9]+", f"arn:aws:iam::{ACCOUNT}:role/ops-.*"])
    app, batch, ops, admin, prefixed, letters = pods(6)
    served = [(app, run_pod(kube, app, ns, role="app-role"), "app-role"),
              (batch, run_pod(kube, batch, ns, role="batch-42"), "batch-42"),
              (ops, run_pod(kube, ops, ns, role=BASE + "ops-reader"), "ops-reader")]
    denied = [run_pod(kube, admin, ns, role="app-role-admin"),
              run_pod(kube, prefixed, ns, role="my-app-role"),
              run_pod(kube, letters, ns, role="batch-x")]

    for pod, obj, role in served:
        creds = credentials(pod, role)
        assert_assumed(identity(sts, creds)["Arn"], role, obj)
        assert sts.issued(creds["AccessKeyId"])["role_arn"] == BASE + role
    for pod, obj in zip((admin, prefixed, letters), denied):
        body = refused(pod)
        assert "no entry of " + ALLOWED + " matches" in body, body
        assert not assume_requests(sts, obj)


# -- 3. the ServiceAccount's role annotation ----------------------------------------------------
def test_service_account_role_is_the_fallback_and_a_pod_annotation_overrides_it(
        kube, pods, start_agent, sts):
    start_agent()
    ns = namespace(kube, ["sa-role", "pod-role"])
    kube.create_service_account("with-role", namespace=ns, annotations={ROLE_KEY: "sa-role"})
    plain, own = pods(2)
    inherits = run_pod(kube, plain, ns, service_account="with-role")
    overrides = run_pod(kube, own, ns, role="pod-role", service_account="with-role")

    wait_role(plain, "sa-role")
    assert_assumed(sdk_identity(plain), "sa-role", inherits)
    wait_role(own, "pod-role")
    assert_assumed(sdk_identity(own), "pod-role", overrides)
    assert {r["params"]["RoleArn"] for r in assume_requests(sts, inherits)} == {BASE + "sa-role"}
    assert {r["params"]["RoleArn"] for r in assume_requests(sts, overrides)} == {BASE + "pod-role"}


# -- 4. --default-role ------------------------------------------------------------------------------
def test_default_role_serves_unannotated_pods_even_where_the_namespace_allows_nothing(
        kube, pods, start_agent, sts):
    """A pod with no annotation (its ServiceAccount has none either) gets --default-role, in a
    namespace with no policy annotation at all; a pod may also name the default role itself. The
    default role is no blanket permission: another role in that namespace is still refused."""
    start_agent("--default-role", "fallback-role")
    ns = create_namespace(kube)
    plain, explicit, other = pods(3)
    plain_obj = run_pod(kube, plain, ns)
    explicit_obj = run_pod(kube, explicit, ns, role="fallback-role")
    other_obj = run_pod(kube, other, ns, role="other-role")

    wait_role(plain, "fallback-role")
    assert_assumed(sdk_identity(plain), "fallback-role", plain_obj)
    creds = credentials(explicit, "fallback-role")
    assert_assumed(identity(sts, creds)["Arn"], "fallback-role", explicit_obj)
    assert {r["params"]["RoleArn"] for r in assume_requests(sts, plain_obj)} == \
        {BASE + "fallback-role"}
    assert "allows no role" in refused(other)
    assert not assume_requests(sts, other_obj)


# -- 5. a base role ARN with a path -----------------------------------------------------------------
def test_base_role_arn_with_a_path_reaches_sts_with_the_path(
        kube, pods, start_agent, sts, monkeypatch):
    """`--base-role-arn arn:aws:iam::…:role/team/`: a bare role name becomes `role/team/<name>`
    and a name with a path `role/team/<path>/<name>`. The roles exist in moto with those paths;
    GetCallerIdentity's UserId carries the RoleId moto gave the role, so moto resolved exactly
    that path-ful ARN."""
    from podiam_testenv.kube import unique
    monkeypatch.setattr(agent_mod, "BASE_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/team/")
    start_agent()
    name, nested = unique("pathed"), unique("nested")
    arns = {name: sts.moto.create_role(name, path="/team/"),
            nested: sts.moto.create_role(nested, path="/team/sub/")}
    assert arns[name] == f"arn:aws:iam::{ACCOUNT}:role/team/{name}"
    iam = sts.moto.client("iam")
    ids = {n: iam.get_role(RoleName=n)["Role"]["RoleId"] for n in arns}
    ns = namespace(kube, [name, f"sub/{nested}"])  # entries are relative to the base ARN too
    pod_a, pod_b = pods(2)
    objs = {name: run_pod(kube, pod_a, ns, role=name),
            nested: run_pod(kube, pod_b, ns, role=f"sub/{nested}")}

    for pod, role in ((pod_a, name), (pod_b, nested)):
        creds = credentials(pod, role)  # listed by its last path segment
        assert sts.issued(creds["AccessKeyId"])["role_arn"] == arns[role]
        who = identity(sts, creds)
        assert_assumed(who["Arn"], role, objs[role])
        assert who["UserId"].startswith(ids[role] + ":"), (who, ids[role])
        assert {r["params"]["RoleArn"] for r in assume_requests(sts, objs[role])} == {arns[role]}


# -- 6. a full role ARN in another account ------------------------------------------------------------
def test_a_role_arn_in_another_account_is_assumed_as_written(kube, pods, start_agent, sts):
    other = "210987654321"
    arn = f"arn:aws:iam::{other}:role/xacct-reader"
    start_agent()
    ns = namespace(kube, [f"arn:aws:iam::{other}:role/xacct-*"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role=arn)

    creds = credentials(pod, "xacct-reader")
    assert {r["params"]["RoleArn"] for r in assume_requests(sts, obj)} == {arn}
    assert sts.issued(creds["AccessKeyId"])["role_arn"] == arn
    who = identity(sts, creds)  # moto's answer: credentials of the other account
    assert who["Account"] == other
    assert_assumed(who["Arn"], "xacct-reader", obj, account=other)
    status, body = answer(pod, "/latest/meta-data/iam/security-credentials-extended/xacct-reader")
    assert status == 200 and json.loads(body)["AccountId"] == other
    assert_assumed(sdk_identity(pod), "xacct-reader", obj, account=other)


# -- 7. external ID ---------------------------------------------------------------------------------------
def test_the_pods_external_id_reaches_sts(kube, pods, start_agent, sts):
    """`iam.amazonaws.com/external-id` is sent as ExternalId with the pod's AssumeRole; a pod
    without it sends none. (With the default flags no Tags or SourceIdentity are sent either.)"""
    start_agent()
    ns = namespace(kube, ["ext-role"])
    with_id, without = pods(2)
    obj = kube.run_pod(namespace=ns, pod_ip=with_id.ip,
                       annotations={ROLE_KEY: "ext-role", EXTERNAL_ID: "ext-7f3a:team=a"})
    plain = run_pod(kube, without, ns, role="ext-role")

    wait_role(with_id, "ext-role")
    assert_assumed(sdk_identity(with_id), "ext-role", obj)
    creds = credentials(without, "ext-role")
    assert_assumed(identity(sts, creds)["Arn"], "ext-role", plain)
    sent = assume_requests(sts, obj)
    assert sent and all(r["params"].get("ExternalId") == "ext-7f3a:team=a" for r in sent), sent
    for r in assumed_for_pods(sts, ns):
        assert r["params"]["RoleArn"] == BASE + "ext-role"
        assert not [k for k in r["params"] if k.startswith("Tags.") or k == "SourceIdentity"], r
    unsent = assume_requests(sts, plain)
    assert unsent and all("ExternalId" not in r["params"] for r in unsent), unsent


# -- 8. session tags ---------------------------------------------------------------------------------------
def test_session_tags_name_the_pod_and_the_cluster(kube, pods, start_agent, sts):
    start_agent("--session-tags", "--cluster-name", "podiam-e2e")
    ns = namespace(kube, ["tagged"])
    kube.create_service_account("tagged-sa", namespace=ns)
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="tagged", service_account="tagged-sa")

    creds = credentials(pod, "tagged")
    assert_assumed(identity(sts, creds)["Arn"], "tagged", obj)
    sent = assume_requests(sts, obj)
    assert sent
    for r in sent:
        params = r["params"]
        assert tags_of(params) == {"kubernetes-namespace": ns,
                        "kubernetes-pod-name": obj["metadata"]["name"],
                        "kubernetes-service-account": "tagged-sa",
                        "kubernetes-pod-uid": obj["metadata"]["uid"],
                        "cluster-name": "podiam-e2e"}, params


# -- 9. SourceIdentity --------------------------------------------------------------------------------------
def test_source_identity_is_derived_from_namespace_and_pod(kube, pods, start_agent, sts):
    start_agent("--source-identity")
    ns = namespace(kube, ["traced"])
    (pod,) = pods(1)
    obj = run_pod(kube, pod, ns, role="traced")

    wait_role(pod, "traced")
    assert_assumed(sdk_identity(pod), "traced", obj)
    sent = assume_requests(sts, obj)
    assert sent
    for r in sent:
        assert r["params"].get("SourceIdentity", "").startswith(session_of(obj)), r["params"]
        assert not [k for k in r["params"] if k.startswith("Tags.")], r["params"]


# -- 10. --assume-role: an intermediate role for every STS call ----------------------------------------------
def test_assume_role_chains_pod_roles_through_the_intermediate_role(kube, pods, start_agent, sts):
    """The agent first assumes the intermediate role with its own keys (session
    `podiam-agent-<node>`), then signs every pod role's AssumeRole with the intermediate
    credentials (the proxy sees their access key id in the Authorization header)."""
    intermediate = f"arn:aws:iam::{ACCOUNT}:role/podiam-intermediate"
    start_agent("--assume-role", intermediate)
    ns = namespace(kube, ["chained-a", "chained-b"])
    pod_a, pod_b = pods(2)
    objs = [run_pod(kube, pod_a, ns, role="chained-a"), run_pod(kube, pod_b, ns, role="chained-b")]

    for pod, obj, role in zip((pod_a, pod_b), objs, ("chained-a", "chained-b")):
        creds = credentials(pod, role)
        assert_assumed(identity(sts, creds)["Arn"], role, obj)
        assert sts.issued(creds["AccessKeyId"])["role_arn"] == BASE + role
    first = [r for r in sts.requests("AssumeRole") if r["params"].get("RoleArn") == intermediate]
    assert first, sts.requests("AssumeRole")
    for r in first:
        assert r["params"]["RoleSessionName"] == f"podiam-agent-{kube.node}", r
        assert r["key_id"] == NODE_KEY, r  # the agent's own keys, only for the intermediate role
    intermediate_keys = {k for k, rec in sts.issued().items() if rec["role_arn"] == intermediate}
    assert intermediate_keys
    chained = assumed_for_pods(sts, ns)
    assert {r["params"]["RoleArn"] for r in chained} == {BASE + "chained-a", BASE + "chained-b"}
    for r in chained:
        assert r["key_id"] in intermediate_keys, (r, intermediate_keys)


# -- 11. --iptables-remove-on-exit ----------------------------------------------------------------------------
def test_iptables_rule_is_removed_on_exit_only_when_asked(kube, node, pods, start_agent, sts):
    """With --iptables-remove-on-exit the DNAT rule the agent installed is gone once it has
    stopped (SIGTERM, exit 0); by default it stays after the agent exits (so pods never fall
    through to the node's metadata service while no agent runs)."""
    ns = namespace(kube, ["dnat-role"])
    (pod,) = pods(1)
    assert dnat_rules(node) == 0, node.nat_rules()

    removing = start_agent("--iptables-remove-on-exit")
    poll("the agent's DNAT rule", lambda: dnat_rules(node) == 1)
    run_pod(kube, pod, ns, role="dnat-role")
    wait_role(pod, "dnat-role")  # through the rule
    assert removing.stop() == 0, removing.log_tail()
    poll("the DNAT rule to be removed on exit", lambda: dnat_rules(node) == 0)

    keeping = start_agent()
    poll("the agent's DNAT rule", lambda: dnat_rules(node) == 1)
    wait_role(pod, "dnat-role")
    assert keeping.stop() == 0, keeping.log_tail()
    assert keeping.proc.poll() is not None
    for _ in range(10):  # and it stays: nothing removes it later either
        assert dnat_rules(node) == 1, node.nat_rules()
        time.sleep(0.2)


# -- what a pod-controlled session-name annotation must not change (docs/agent.md, "Sessions") --
SESSION_NAME = "iam.amazonaws.com/session-name"


def test_source_identity_stays_derived_from_namespace_and_pod_with_a_session_name_annotation(
        kube, pods, start_agent, sts):
    start_agent("--source-identity")
    ns = namespace(kube, ["traced"])
    (pod,) = pods(1)
    obj = kube.run_pod(namespace=ns, pod_ip=pod.ip, annotations={
        ROLE_KEY: "traced", SESSION_NAME: "someone-else.admin-pod"})

    creds = credentials(pod, "traced")
    assert sts.issued(creds["AccessKeyId"])["role_arn"] == BASE + "traced"
    sent = [r for r in sts.requests("AssumeRole") if r["params"].get("RoleArn") == BASE + "traced"]
    assert sent
    for r in sent:
        assert r["params"].get("SourceIdentity", "").startswith(session_of(obj)), r["params"]


def test_the_same_session_name_annotation_in_two_namespaces_never_shares_credentials(
        kube, pods, start_agent, sts):
    start_agent("--session-tags")
    ns_a = namespace(kube, ["shared"])
    ns_b = namespace(kube, ["shared"])
    pod_a, pod_b = pods(2)
    for pod, ns in ((pod_a, ns_a), (pod_b, ns_b)):
        kube.run_pod(namespace=ns, pod_ip=pod.ip,
                     annotations={ROLE_KEY: "shared", SESSION_NAME: "same-session"})

    key_a = credentials(pod_a, "shared")["AccessKeyId"]
    key_b = credentials(pod_b, "shared")["AccessKeyId"]
    assert key_a != key_b, "pods of two namespaces were served the same credentials"
    tagged = {tags_of(r["params"]).get("kubernetes-namespace") for r in sts.requests("AssumeRole")
              if r["params"].get("RoleArn") == BASE + "shared"}
    assert {ns_a, ns_b} <= tagged, tagged
