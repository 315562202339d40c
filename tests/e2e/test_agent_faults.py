"""`podiam agent` under faults (issue 7, "Faults"): STS down or throttling, credentials that arrive
close to expiry, the apiserver restarting with watch expiry (410), and the agent itself
restarting under load. Each test fails if the behaviour it names regresses.

The agent's STS goes through the session's fault proxy (fixture `sts`), which counts every
attempt, injects faults and records which AssumeRole issued each key (`sts.issued(key)`), so a
served key can be traced to its role and session. Pods' metadata requests are made from the
test process itself, on sockets living in the pods' network namespaces (`Pod.connect`), through
the agent's own DNAT rule — cheap enough to poll several pods continuously.

Timing: nothing here asserts speed (docs/benchmarks.md measures it). Waits are polls with generous
deadlines; bounds are on counts (STS attempts) and on behaviour (what was served, and when
relative to the credentials' own expiry), except where the issue names a time: a request must
not outlast the SDKs' 1 s metadata timeout, checked on the agent's own latency histogram.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import statistics
import threading
import time

import pytest

from podiam_testenv.agent import AGENT_PORT, BASE_ROLE_ARN
from podiam_testenv.imds_client import namespace, run_pod
from podiam_testenv.imds_stub import ImdsStub
from podiam_testenv.netns import IMDS_IP, NODE_IP, HttpServer, ip
from podiam_testenv.pod_lookup import (MIN_REMAINING, NODE_KEY, NODE_SECRET, Answer, Poller, lookup,
                                       session_of, wait_for, wait_ok)

pytestmark = pytest.mark.e2e

STS_ATTEMPTS_PER_CALL = 4  # HttpStsClientOptions.max_attempts: retries inside one broker call


# ------------------------------------------------------------------------------------------------
# the cluster side

def assert_issued_for(sts, key: str, role: str, obj) -> None:
    """`key` came from an AssumeRole for `role` with the pod's own session name."""
    rec = sts.issued(key)
    assert rec is not None, f"served key {key} was never issued by STS (through the proxy)"
    assert (rec["role_arn"], rec["session"]) == (BASE_ROLE_ARN + role, session_of(obj)), rec


def session_attempts(sts, session: str, since: float = 0.0, until: float = float("inf")) -> list[dict]:
    return [r for r in sts.requests("AssumeRole")
            if r["params"].get("RoleSessionName") == session and since <= r["time"] < until]


def seconds_left(answer: Answer) -> float:
    return answer.expiration - answer.end


def pod_relists(agent) -> int:
    """Completed relists of the pod informer (its log line, written once the new list is in;
    the relist metric counts the 410 that starts one)."""
    return sum(1 for line in agent.log_text().splitlines()
               if " relisted " in line and "resource=pods" in line)


def describe(answers: list[Answer], limit: int = 12) -> str:
    return "; ".join(f"{a.start % 1000:.2f}+{a.elapsed:.2f}s {a.status} {a.role} {a.key}"
                     for a in answers[-limit:])


# ------------------------------------------------------------------------------------------------
# the tests

def test_sts_down_after_warm_up_serves_cached_until_near_expiry_then_recovers(
        kube, pods, start_agent, sts):
    """STS fails (503 ServiceUnavailable) right after the warm-up fetch, whose credentials the
    proxy makes expire 15 min + `window` (20 s) later. Proves: the agent keeps serving exactly
    those cached credentials after its refresh failed, and never once they have under 15 min left;
    from then on every pod gets a clear 503 (never other credentials, never the node's); its
    STS attempts stay bounded by backoff however fast pods ask; and once STS is back each pod is
    served fresh credentials of its own role."""
    window = 20
    agent = start_agent()
    ns = namespace(kube, ["steady"])
    netns_pods = pods(3)
    # The three prefetches get short credentials; every AssumeRole after them fails.
    sts.fault("expire_in", action="AssumeRole", seconds=MIN_REMAINING + window, count=len(netns_pods))
    sts.fault("unavailable", action="AssumeRole")
    objs = [run_pod(kube, p, ns, "steady") for p in netns_pods]
    warm = {}
    for pod, obj in zip(netns_pods, objs):
        a = wait_ok(pod, "steady", timeout=window / 2)
        assert_issued_for(sts, a.key, "steady", obj)
        warm[pod.name] = a
    serve_until = {p.name: warm[p.name].expiration - MIN_REMAINING for p in netns_pods}

    pollers = [Poller(p, "steady", interval=0.05).start() for p in netns_pods]
    outage_end = max(serve_until.values()) + 6
    wait_for(lambda: time.time() > outage_end, window + 30, "the end of the outage window", 0.5)
    sts.clear_faults()
    recovered_at = time.time()
    fresh = {}
    for pod, obj in zip(netns_pods, objs):
        fresh[pod.name] = wait_ok(pod, "steady", timeout=90)
    answers = {p.name: poller.stop() for p, poller in zip(netns_pods, pollers)}

    for pod, obj in zip(netns_pods, objs):
        name, mine = pod.name, answers[pod.name]
        during = [a for a in mine if a.end < recovered_at]
        assert not any(a.leak for a in mine), "the node's credentials reached a pod"
        # While STS is down: only the warm-up credentials, and only while >= 15 min are left.
        served = [a for a in during if a.ok]
        assert {a.key for a in served} <= {warm[name].key}, describe(served)
        assert all(seconds_left(a) >= MIN_REMAINING - 2 for a in served), describe(served)
        # The refresh failed while they were still being served (cached, not just unrefreshed).
        failed = [r for r in session_attempts(sts, session_of(obj), until=serve_until[name])
                  if r["fault"] == "unavailable"]
        assert failed, f"no refresh attempt before the credentials ran out: {sts.requests('AssumeRole')}"
        assert any(a.ok and a.start > failed[0]["time"] for a in during), \
            "cached credentials were not served after the refresh had failed"
        # Past the servable window: a clear refusal, every time.
        late = [a for a in during if a.start > serve_until[name] + 1]
        assert len(late) >= 5, describe(mine)
        assert all(a.status == 503 and "AccessKeyId" not in a.body for a in late), describe(late)
        assert json.loads(late[-1].body)["Code"], late[-1].body
        # No thundering herd: the pod asked every ~50 ms, STS saw a few backed-off calls.
        attempts = session_attempts(sts, session_of(obj), since=warm[name].end, until=recovered_at)
        print(f"{name}: {len(during)} lookups, {len(served)} served, {len(late)} refused late, "
              f"{len(attempts)} STS attempts while down, recovered in "
              f"{fresh[name].end - recovered_at:.1f} s")
        assert 2 <= len(attempts) <= 12 * STS_ATTEMPTS_PER_CALL, \
            f"{len(attempts)} STS attempts for {len(during)} requests of {name}"
        assert len(during) >= 2 * len(attempts), (len(during), len(attempts))
        # Recovery: new credentials of the pod's own role, a full session long.
        assert fresh[name].key != warm[name].key
        assert_issued_for(sts, fresh[name].key, "steady", obj)
        assert seconds_left(fresh[name]) > 50 * 60
    assert agent.metric("podiam_creds_refresh_failures_total") >= len(netns_pods)


def test_sts_throttling_backs_off_with_jitter_and_requests_answer_within_sdk_timeout(
        kube, pods, start_agent, sts):
    """AssumeRole is throttled (each Throttling answer delayed 0.3 s, so one call with its
    retries outlasts a pod's request) while fresh pods ask for credentials in a loop. Proves:
    every request is answered, with a clear 503, within botocore's 1 s metadata timeout (the
    agent's own latency histogram; no request waits for STS); per pod session the attempts at
    STS come in calls whose gaps grow (exponential backoff) and differ between pods (jitter),
    bounded however often the pods ask; and each pod gets its own role once STS stops
    throttling."""
    agent = start_agent()
    ns = namespace(kube, ["throttled"])
    netns_pods = pods(4)
    sts.fault("throttling", action="AssumeRole", delay=0.3)
    objs = []
    pollers = []
    for pod in netns_pods:
        objs.append(run_pod(kube, pod, ns, "throttled"))
        pollers.append(Poller(pod, "throttled", interval=0.05).start())
    sessions = [session_of(o) for o in objs]
    calls_wanted = 5

    def calls_made():
        return min(len(session_attempts(sts, s)) for s in sessions) // STS_ATTEMPTS_PER_CALL

    wait_for(lambda: calls_made() >= calls_wanted, 90, f"{calls_wanted} throttled calls per pod", 0.5)
    throttled = {s: session_attempts(sts, s) for s in sessions}
    sts.clear_faults()
    recovered_at = time.time()
    fresh = [wait_ok(p, "throttled", timeout=90) for p in netns_pods]
    answers = [poller.stop() for poller in pollers]

    # Every request answered, none waited for STS: a clear refusal, or credentials.
    for mine in answers:
        during = [a for a in mine if a.end < recovered_at]
        assert len(during) >= 20, describe(mine)
        # 404 only if a pod asked before the agent could find it at all (not yet visible)
        assert all(a.status in (404, 503) and "AccessKeyId" not in a.body for a in during), \
            describe(during)
        assert len([a for a in during if a.status == 503]) >= len(during) / 2, describe(during)
        assert all(a.elapsed < 2.5 for a in mine), max(a.elapsed for a in mine)
    total = agent.metric("podiam_imds_request_duration_seconds_count", route="credentials")
    within_1s = agent.metric("podiam_imds_request_duration_seconds_bucket", route="credentials", le="1")
    assert total >= sum(len(m) for m in answers) - len(answers) and within_1s == total, \
        f"{total - within_1s} of {total} credential requests took over 1 s"

    # Backoff with jitter. Each broker call is STS_ATTEMPTS_PER_CALL throttled attempts (the STS
    # client's own retries); the pause from a call's last answer to the next call's first
    # attempt is the broker's backoff, drawn from [0, 1 s * 2^(n-1)].
    calls = {s: [t[i:i + STS_ATTEMPTS_PER_CALL] for i in range(0, len(t), STS_ATTEMPTS_PER_CALL)]
             [:calls_wanted] for s, t in throttled.items()}
    pauses = {s: [nxt[0]["time"] - (prev[-1]["time"] + 0.3) for prev, nxt in zip(cs, cs[1:])]
              for s, cs in calls.items()}
    print(f"broker backoff pauses per session: "
          f"{ {s[-8:]: [round(p, 2) for p in ps] for s, ps in pauses.items()} }")
    early = statistics.mean(p for ps in pauses.values() for p in ps[:2])
    later = statistics.mean(p for ps in pauses.values() for p in ps[2:])
    assert later > early, f"the pauses between calls do not grow: {pauses}"
    assert max(p for ps in pauses.values() for p in ps[2:]) > 1.0, pauses  # past the first step
    # Jitter: the pods' n-th pauses differ (a fixed schedule would keep them in lockstep).
    spread = max(max(ps[k] for ps in pauses.values()) - min(ps[k] for ps in pauses.values())
                 for k in range(calls_wanted - 1))
    assert spread > 0.3, f"the pods' retries stay in lockstep (no jitter): {pauses}"
    # Bounded: over the throttled period, a handful of calls per pod, not one per request.
    for s, mine in zip(sessions, answers):
        attempts = [r for r in sts.requests("AssumeRole")
                    if r["params"]["RoleSessionName"] == s and r["time"] < recovered_at]
        asked = len([a for a in mine if a.end < recovered_at])
        assert len(attempts) <= 10 * STS_ATTEMPTS_PER_CALL and asked >= 2 * len(attempts), \
            (s, len(attempts), asked)
    for a, obj in zip(fresh, objs):
        assert_issued_for(sts, a.key, "throttled", obj)
    assert agent.metric("podiam_sts_calls_total", action="AssumeRole", result="Throttling") >= \
        calls_wanted * len(netns_pods)


def test_apiserver_restart_and_410_never_use_a_stale_mapping(
        kube, pods, start_agent, sts, cluster):
    """While the agent is cut off from the apiserver, pod A (role-a) is deleted and its IP given
    to pod B (role-b), pod C (role-c) is created, and pod D (role-d) is deleted for good; etcd is
    compacted and the apiserver restarted, so the agent's watch resumes into 410 Gone and must
    relist. Proves: once the agent has relisted, A's IP never lists or gets role-a (B gets its
    own role), D's IP is refused (no stale pod left behind by the relist), and C is served."""
    agent = start_agent()
    ns = namespace(kube, ["role-a", "role-b", "role-c", "role-d"])
    p_ab, p_c, p_d = pods(3)
    a_obj = run_pod(kube, p_ab, ns, "role-a")
    d_obj = run_pod(kube, p_d, ns, "role-d")
    assert_issued_for(sts, wait_ok(p_ab, timeout=30).key, "role-a", a_obj)
    assert_issued_for(sts, wait_ok(p_d, timeout=30).key, "role-d", d_obj)
    relists_before = agent.metric("podiam_k8s_informer_relists_total", resource="pods", reason="gone")
    relists_logged = pod_relists(agent)

    agent.cut_apiserver()
    kube.delete_pod(a_obj["metadata"]["name"], namespace=ns)
    b_obj = run_pod(kube, p_ab, ns, "role-b")
    c_obj = run_pod(kube, p_c, ns, "role-c")
    kube.delete_pod(d_obj["metadata"]["name"], namespace=ns)
    cluster.compact()
    cluster.restart_apiserver()
    agent.restore_apiserver()

    pollers = {p.name: Poller(p, interval=0.1).start() for p in (p_ab, p_c, p_d)}
    wait_for(lambda: agent.metric("podiam_k8s_informer_relists_total", resource="pods",
                                  reason="gone") > relists_before,
             90, "the pod informer's watch ending in 410 Gone", 0.5)
    wait_for(lambda: pod_relists(agent) > relists_logged, 30, "the pod informer's relist", 0.2)
    synced_at = time.time()
    b = wait_ok(p_ab, timeout=30)
    c = wait_ok(p_c, timeout=30)
    wait_for(lambda: time.time() > synced_at + 3, 10, "a few seconds of polling after the relist")
    for poller in pollers.values():
        poller.stop()
    after = {name: poller.answers(since=synced_at) for name, poller in pollers.items()}

    assert (b.role, c.role) == ("role-b", "role-c")
    assert_issued_for(sts, b.key, "role-b", b_obj)
    assert_issued_for(sts, c.key, "role-c", c_obj)
    on_ab = after[p_ab.name]
    print(f"after the relist: {[(n, len(a), sorted({x.status for x in a})) for n, a in after.items()]}")
    assert len(on_ab) >= 5 and all(a.role != "role-a" for a in on_ab), describe(on_ab)
    for a in on_ab:
        if a.ok:
            assert_issued_for(sts, a.key, "role-b", b_obj)
    on_d = after[p_d.name]
    assert len(on_d) >= 5 and all(a.status == 404 and a.role is None for a in on_d), describe(on_d)
    assert all(a.role == "role-c" for a in after[p_c.name] if a.status == 200), describe(after[p_c.name])


def test_agent_restart_under_load_keeps_dnat_and_never_serves_the_node_role(
        kube, pods, start_agent, sts, node):
    """The node has its own metadata service (a stub on 169.254.169.254 in the node namespace
    serving the node's keys): a pod whose traffic is not DNATed reaches it — checked first. Two
    pods then look up credentials in a loop while the agent is stopped (SIGTERM) and a new one
    started that cannot reach the apiserver at first. Proves: the DNAT rule stays in place
    throughout (in every sample, also while no agent runs); every answer is the pod's own role
    or a refusal (connection refused, 404, 503), never the node's role or keys; the new agent's
    /readyz stays 503 until its informers have listed, then turns 200, and pods are served
    again."""
    stub = ImdsStub(role="node-role", require_token=False, credentials={
        "AccessKeyId": NODE_KEY, "SecretAccessKey": NODE_SECRET, "SessionToken": "node-token",
        "Expiration": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=6)})
    ip(netns=node.name, batch=f"addr add {IMDS_IP}/32 dev lo\n")
    node._closing(HttpServer(ImdsStub.Handler, IMDS_IP, 80, node.name, owner=stub))
    ns = namespace(kube, ["worker-1", "worker-2"])
    netns_pods = pods(2)
    unprotected = lookup(netns_pods[0])
    assert unprotected.role == "node-role" and unprotected.leak, unprotected  # the test has teeth
    reached_node = len(stub.requests)

    first = start_agent()
    roles = ["worker-1", "worker-2"]
    objs = [run_pod(kube, p, ns, r) for p, r in zip(netns_pods, roles)]
    for pod, role, obj in zip(netns_pods, roles, objs):
        a = wait_ok(pod, timeout=30)
        assert a.role == role
        assert_issued_for(sts, a.key, role, obj)

    rule = f"--to-destination {NODE_IP}:{AGENT_PORT}"
    samples: list[tuple[float, int]] = []  # (time, DNAT rules for 169.254.169.254 present)
    stop = threading.Event()

    def watch_rules():
        while not stop.is_set():
            text = node.nat_rules()
            samples.append((time.time(), sum(1 for line in text.splitlines()
                                             if IMDS_IP in line and rule in line)))
            stop.wait(0.2)

    watcher = threading.Thread(target=watch_rules, daemon=True)
    watcher.start()
    pollers = [Poller(p, interval=0.05).start() for p in netns_pods]
    wait_for(lambda: all(len(p.answers()) >= 5 for p in pollers), 30, "load before the restart")

    stopped_at = time.time()
    assert first.stop() == 0, first.log_tail()
    gone_at = time.time()
    wait_for(lambda: any(t > gone_at for t, _ in samples), 10, "a rule sample with no agent running")
    first.cut_apiserver()
    second = start_agent(wait_ready=False)
    readyz = []

    def ready_status():
        status = second.ops("/readyz")[0]
        readyz.append((time.time(), status))
        return status

    wait_for(lambda: ready_status() != 0, 30, "the new agent's ops listener")
    hold_until = time.time() + 3  # held off the apiserver: readiness must stay false meanwhile
    while time.time() < hold_until:
        ready_status()
        time.sleep(0.2)
    restored_at = time.time()
    second.restore_apiserver()
    wait_for(lambda: ready_status() == 200, 60, "the new agent ready once it can list")
    assert second.metric("podiam_k8s_informer_synced", resource="pods") == 1
    served_again = {p.pod.name: wait_for(
        lambda p=p: [a for a in p.answers(since=restored_at) if a.ok], 60,
        f"{p.pod} served by the new agent") for p in pollers}
    answers = [p.stop() for p in pollers]
    stop.set()
    watcher.join(10)

    print(f"{len(samples)} rule samples; readyz {sorted(set(s for _, s in readyz))}; answers "
          f"{[sorted(collections.Counter(a.status for a in m).items()) for m in answers]}")
    assert all(n == 1 for _, n in samples), f"DNAT rule missing or duplicated: {samples}"
    assert len([t for t, _ in samples if t > stopped_at]) >= 3
    held = [s for t, s in readyz if t < restored_at and s != 0]
    assert len(held) >= 5 and all(s == 503 for s in held), readyz
    for pod, role, obj, mine in zip(netns_pods, roles, objs, answers):
        assert not any(a.leak or a.role == "node-role" for a in mine), "a pod reached the node's role"
        assert all(a.role in (None, role) for a in mine), describe(mine)
        for a in mine:
            if a.ok:
                assert_issued_for(sts, a.key, role, obj)
        refusals = [a for a in mine if not a.ok]
        assert all(a.status in (0, 404, 503) for a in refusals), describe(refusals)
        assert any(a.ok and a.start > stopped_at for a in mine) and served_again[pod.name]
    assert len(stub.requests) == reached_node, "pod traffic reached the node's metadata service"


def test_credentials_already_near_expiry_are_refreshed_not_served(kube, pods, start_agent, sts):
    """STS answers with credentials that have only 10 min left (a short role session, or this
    node's clock running ahead). Proves: no pod is ever given them — it gets a 503 saying why —
    and the agent keeps retrying with backoff until STS returns full-length ones, which are then
    served. A second pod whose credentials arrive with 15 min + 12 s left is served them only
    while that stays true: the agent refreshes them in time, so the pod switches to fresh ones
    with no refusal in between."""
    agent = start_agent()
    ns = namespace(kube, ["clock"])
    early, late = pods(2)
    sts.fault("expire_in", action="AssumeRole", seconds=600)
    early_obj = run_pod(kube, early, ns, "clock")
    poller = Poller(early, "clock", interval=0.1).start()
    wait_for(lambda: agent.metric("podiam_creds_sts_fetches_total", result="too_short") >= 3, 60,
             "three refused short-lived fetches")
    short_keys = set(sts.issued())
    cleared_at = time.time()
    sts.clear_faults()
    fresh = wait_ok(early, "clock", timeout=90)
    refused = poller.stop()

    assert len(short_keys) >= 3
    assert fresh.key not in short_keys and seconds_left(fresh) > 50 * 60
    assert_issued_for(sts, fresh.key, "clock", early_obj)
    before = [a for a in refused if a.end < cleared_at]
    assert len(before) >= 3 and all(a.status == 503 for a in before), describe(before)
    assert any("expire in" in a.body for a in before), before[-1].body
    assert not any(a.ok and (a.key in short_keys or seconds_left(a) < MIN_REMAINING) for a in refused)

    margin = 12
    sts.fault("expire_in", action="AssumeRole", seconds=MIN_REMAINING + margin, count=1)
    late_obj = run_pod(kube, late, ns, "clock")
    first = wait_ok(late, "clock", timeout=margin / 2)
    assert_issued_for(sts, first.key, "clock", late_obj)
    assert MIN_REMAINING - 2 <= seconds_left(first) <= MIN_REMAINING + margin
    poller = Poller(late, "clock", interval=0.1).start()
    wait_for(lambda: any(a.ok and a.key != first.key for a in poller.answers()), margin + 30,
             "the near-expiry credentials replaced")
    time.sleep(1)
    answers = poller.stop()
    assert all(a.ok for a in answers), describe([a for a in answers if not a.ok])
    assert all(seconds_left(a) >= MIN_REMAINING - 2 for a in answers), describe(answers)
    switched = next(i for i, a in enumerate(answers) if a.key != first.key)
    assert all(a.key != first.key for a in answers[switched:]), describe(answers)
    assert_issued_for(sts, answers[-1].key, "clock", late_obj)
