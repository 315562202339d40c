"""`podiam controller` while STS fails (issue 18, docs/controller.md "When STS fails"): the Secret
keeps its last good credentials, the AWSIAMRole's status and one Warning Event say so, the STS
retries back off, and the controller recovers alone when STS answers again.

Time-compressed: the counting/fault proxy rewrites the first credentials' Expiration to 15 min
40 s (the broker never hands out credentials with less than 15 min left, so they are servable for
40 s and due for refresh after 20 s); then every AssumeRole fails with 503 ServiceUnavailable for
about 80 s. That walks through every phase a 10-minute outage has (refresh failing while the
credentials are valid, then past the last servable moment), and the backoff reaches its 60 s cap
within that window, after which a longer outage only repeats the last phase once a minute.

One controller per module (same Lease as test_controller.py; modules run one after another).
"""

from __future__ import annotations

import json
import time

import pytest

from test_controller import (BASE, Controller, allow, crds, events_for,  # noqa: F401
                             make_role, roles_path, secret_files, wait_for)

pytestmark = pytest.mark.e2e

MIN_REMAINING = 15 * 60
SERVABLE = 40  # seconds the first credentials are servable for


@pytest.fixture(scope="module")
def controller(cluster, crds, sts):  # noqa: F811
    try:
        sts.moto.create_role("outage")
    except Exception:  # noqa: BLE001 - already there (moto is per session)
        pass
    c = Controller(cluster, sts, name="podiam-controller-outage").start()
    yield c
    code = c.stop()
    text = c.log_path.read_text(errors="replace")
    assert "ERROR: AddressSanitizer" not in text, c.log_tail(120)
    assert code == 0, c.log_tail()


def condition(cluster, ns: str, name: str) -> dict:
    got = cluster.rest.get(roles_path("podiam.io", ns, name))
    for c in (got.get("status") or {}).get("conditions") or []:
        if c["type"] == "Ready":
            return {**c, "expiration": got["status"].get("expiration")}
    return {}


def secret_version(cluster, ns: str, name: str) -> str:
    return cluster.rest.get(f"/api/v1/namespaces/{ns}/secrets/{name}")["metadata"][
        "resourceVersion"]


def test_sts_outage_keeps_the_secret_says_so_backs_off_and_recovers(cluster, kube, controller,
                                                                    sts):
    ns = kube.namespace
    allow(kube, json.dumps(["outage"]))
    session = f"{ns}.outage"

    def calls() -> list[dict]:
        return [r for r in sts.requests("AssumeRole")
                if r["params"].get("RoleSessionName") == session]

    # Faults match in order: the first AssumeRole passes (short-lived), every later one fails.
    sts.fault("expire_in", action="AssumeRole", count=1, seconds=MIN_REMAINING + SERVABLE)
    sts.fault("unavailable", action="AssumeRole")
    try:
        make_role(cluster, ns, "outage", {"roleReference": "outage"})
        issued = time.time()
        files = wait_for("the Secret", lambda: secret_files(cluster, ns, "outage"),
                         controller=controller)
        version = secret_version(cluster, ns, "outage")
        assert len(calls()) == 1, calls()

        # Phase 1: the refresh fails while the credentials are valid: Ready stays True, says so.
        cond = wait_for("RefreshFailing", lambda: (
            c if (c := condition(cluster, ns, "outage")).get("reason") == "RefreshFailing"
            else None), timeout=SERVABLE, controller=controller)
        assert cond["status"] == "True", cond
        assert "ServiceUnavailable" in cond["message"], cond
        assert cond["expiration"] == files["expiration"], cond
        assert secret_files(cluster, ns, "outage") == files
        assert secret_version(cluster, ns, "outage") == version  # not even rewritten
        wait_for("the RefreshFailing Event", lambda: [
            e for e in events_for(cluster, ns, "outage")
            if e["reason"] == "RefreshFailing" and e["type"] == "Warning"],
            controller=controller)

        # Phase 2: past the last servable moment: Ready False, the Secret still untouched.
        cond = wait_for("GetCredentialsFailed", lambda: (
            c if (c := condition(cluster, ns, "outage")).get("reason") == "GetCredentialsFailed"
            else None), timeout=SERVABLE + 30, controller=controller)
        assert cond["status"] == "False", cond
        assert "keeps its last credentials" in cond["message"], cond
        assert cond["expiration"] == files["expiration"], cond

        # Keep STS down for 60 s after the first failed refresh, then look at the retries.
        first_failure = calls()[1]["time"]
        time.sleep(max(0.0, first_failure + 60 - time.time()))
        failed = [r["time"] - first_failure for r in calls()[1:]]
        assert all(r["fault"] for r in calls()[1:]), calls()
        early = sum(1 for t in failed if t < 20)
        late = sum(1 for t in failed if 40 <= t < 60)
        # Each broker attempt is up to 4 HTTP calls (the STS client's own quick retries). A fixed
        # 1 s retry would make 240 calls, 80 in each third; backoff (1 s doubling to a 60 s cap,
        # full jitter) makes a handful of attempts, most of them early.
        assert len(failed) <= 40, failed
        assert late < early, failed
        assert secret_files(cluster, ns, "outage") == files
        assert secret_version(cluster, ns, "outage") == version
        warnings = [e for e in events_for(cluster, ns, "outage") if e["type"] == "Warning"]
        # One Event per phase, not one per retry (a series counts repeats of the same note).
        assert len(warnings) <= 2, warnings
        assert time.time() - issued < SERVABLE + 100
    finally:
        sts.clear_faults()

    # Phase 3: STS answers again: new credentials in the Secret, Ready, without any help.
    recovered = wait_for("new credentials", lambda: (
        f if (f := secret_files(cluster, ns, "outage")) and f["credentials"] != files["credentials"]
        else None), timeout=150, controller=controller)
    assert recovered["expiration"] > files["expiration"], recovered
    cond = wait_for("Ready again", lambda: (
        c if (c := condition(cluster, ns, "outage")).get("reason") == "CredentialsReady"
        else None), timeout=30, controller=controller)
    assert cond["status"] == "True", cond
    assert cond["expiration"] == recovered["expiration"], cond
    assert not calls()[-1]["fault"], calls()[-1]
