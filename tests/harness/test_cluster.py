"""Self-tests of the test control plane (tests/cluster) and the kubelet stand-in."""

from __future__ import annotations

import os
import time

import pytest

from podiam_testenv.cluster import ApiError, Cluster, ClusterError
from podiam_testenv.kube import (
    EXTRA_NODE_NAME,
    EXTRA_NODE_UID,
    EXTRA_POD_NAME,
    EXTRA_POD_UID,
    Kube,
    new_ip,
    unique,
    wait_for_event,
)

pytestmark = pytest.mark.harness


def test_watch_sees_pod_status_patch(kube: Kube) -> None:
    pod = kube.create_pod(annotations={"example.com/role": "reader"})
    name, rv = pod["metadata"]["name"], pod["metadata"]["resourceVersion"]
    ip = new_ip()
    kube.set_pod_status(name, pod_ip=ip)
    ev = wait_for_event(
        kube.watch_pods(resource_version=rv, fieldSelector=f"spec.nodeName={kube.node}", timeout=20),
        lambda e: e["type"] == "MODIFIED" and e["object"]["metadata"]["name"] == name,
    )
    st = ev["object"]["status"]
    assert st["podIP"] == ip and st["podIPs"] == [{"ip": ip}] and st["phase"] == "Running"
    assert ev["object"]["metadata"]["annotations"]["example.com/role"] == "reader"


def test_pod_bound_token_reviews_with_pod_and_node(kube: Kube) -> None:
    sa = kube.create_service_account(annotations={"example.com/role-arn": "arn:aws:iam::123456789012:role/r"})
    sa_name = sa["metadata"]["name"]
    pod = kube.run_pod(service_account=sa_name)
    token = kube.request_token(sa_name, audiences=["sts.amazonaws.com"], pod=pod)

    st = kube.token_review(token, audiences=["sts.amazonaws.com"])
    assert st["authenticated"] is True, st
    assert st["audiences"] == ["sts.amazonaws.com"]
    user = st["user"]
    assert user["username"] == f"system:serviceaccount:{kube.namespace}:{sa_name}"
    assert user["uid"] == sa["metadata"]["uid"]
    extra = user["extra"]
    assert extra[EXTRA_POD_NAME] == [pod["metadata"]["name"]]
    assert extra[EXTRA_POD_UID] == [pod["metadata"]["uid"]]
    assert extra[EXTRA_NODE_NAME] == [kube.node]
    assert extra[EXTRA_NODE_UID] == [kube.get_node(kube.node)["metadata"]["uid"]]

    # Another audience is not accepted; the token dies with its pod.
    assert not kube.token_review(token, audiences=["other"]).get("authenticated")
    # The apiserver caches successful authentications for 10 s (not configurable), so the
    # review turns negative within about that long after the pod is gone.
    kube.delete_pod(pod["metadata"]["name"])
    deadline = time.monotonic() + 20
    while kube.token_review(token, audiences=["sts.amazonaws.com"]).get("authenticated"):
        assert time.monotonic() < deadline, "token still valid 20 s after its pod was deleted"
        time.sleep(0.5)


def test_deleted_pod_ip_reused_by_new_pod(kube: Kube) -> None:
    old = kube.run_pod()
    ip = old["status"]["podIP"]
    new = kube.reuse_ip(old)
    assert new["status"]["podIP"] == ip and new["metadata"]["uid"] != old["metadata"]["uid"]
    with pytest.raises(ApiError) as e:
        kube.get_pod(old["metadata"]["name"])
    assert e.value.status == 404
    on_node = kube.list_pods(field_selector=f"spec.nodeName={kube.node},status.podIP={ip}")["items"]
    assert [p["metadata"]["name"] for p in on_node] == [new["metadata"]["name"]]

    # A terminal pod keeps its IP in the API while a new pod reuses it.
    newer = kube.reuse_ip(new, old_becomes="Succeeded")
    phases = {p["metadata"]["name"]: p["status"]["phase"]
              for p in kube.list_pods(field_selector=f"status.podIP={ip}")["items"]}
    assert phases == {new["metadata"]["name"]: "Succeeded", newer["metadata"]["name"]: "Running"}


def test_graceful_delete_leaves_pod_terminating(kube: Kube) -> None:
    # Why delete_pod defaults to gracePeriodSeconds=0: no kubelet ever confirms the stop.
    pod = kube.run_pod()
    name = pod["metadata"]["name"]
    kube.delete_pod(name, grace_period_seconds=30, wait=False)
    time.sleep(1)
    assert kube.get_pod(name)["metadata"].get("deletionTimestamp")
    kube.delete_pod(name)  # grace 0: really gone
    with pytest.raises(ApiError):
        kube.get_pod(name)


def test_controller_manager_creates_default_service_account(kube: Kube) -> None:
    ns = kube.create_namespace(annotations={"example.com/allowed-roles": "[]"}, wait_default_sa=False)
    name = ns["metadata"]["name"]
    try:
        sa = kube.wait_service_account("default", name, timeout=30)
        assert sa["metadata"]["namespace"] == name
        got = kube.rest.get(f"/api/v1/namespaces/{name}")
        assert got["metadata"]["annotations"]["example.com/allowed-roles"] == "[]"
    finally:
        kube.delete_namespace(name)


def test_host_network_pod_gets_host_ip(kube: Kube) -> None:
    pod = kube.run_pod(host_network=True)
    assert pod["spec"]["hostNetwork"] is True
    assert pod["status"]["podIP"] == pod["status"]["hostIP"] == kube.host_ip


def test_up_and_down_leave_no_process(tmp_path) -> None:
    # A second, private cluster: its own ports, PIDs and state dir.
    c = Cluster.start(tmp_path / "c")
    pids = c.pids()
    try:
        assert all(pids.values()), pids
        assert c.rest.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"
    finally:
        c.stop()
    assert not (tmp_path / "c").exists()
    for name, pid in pids.items():
        assert not os.path.exists(f"/proc/{pid}"), f"{name} (pid {pid}) still running"
    for cmdline in _cmdlines():
        assert str(tmp_path) not in cmdline, cmdline


def test_restart_apiserver_and_compaction(tmp_path) -> None:
    c = Cluster.start(tmp_path / "c", apiserver_args=("--watch-cache=false",))
    try:
        k = Kube(c.rest)
        ns = k.create_namespace()["metadata"]["name"]
        k.namespace = ns
        old_rv = k.list_pods()["metadata"]["resourceVersion"]
        k.run_pod()
        for hard in (False, True):
            before = c.pids()
            c.restart_apiserver(hard=hard)
            after = c.pids()
            assert after["kube-apiserver"] != before["kube-apiserver"]
            assert after["etcd"] == before["etcd"]
            # restarted with it, so that its controllers work at once (tests/cluster/ctl)
            assert after["kube-controller-manager"] != before["kube-controller-manager"]
            assert len(k.list_pods()["items"]) == 1  # data survived

        c.compact()
        with pytest.raises(ApiError) as e:  # 410 either up front or as an in-stream ERROR
            for ev in k.watch_pods(resource_version=old_rv, timeout=5):
                if ev["type"] == "ERROR":
                    raise ApiError("WATCH", "pods", ev["object"]["code"], str(ev["object"]))
        assert e.value.status == 410
    finally:
        c.stop()


def test_up_failure_shows_log_and_cleans_up(tmp_path) -> None:
    with pytest.raises(ClusterError) as e:
        Cluster.start(tmp_path / "c", apiserver_args=("--no-such-flag",))
    assert "unknown flag: --no-such-flag" in str(e.value)  # the tail of kube-apiserver.log
    assert not list((tmp_path / "c").glob("*.pid"))
    for cmdline in _cmdlines():
        assert str(tmp_path) not in cmdline, cmdline


def _cmdlines() -> list[str]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out


def test_unique_names() -> None:
    names = {unique("My_Test") for _ in range(100)}
    assert len(names) == 100 and all(n.startswith("my-test-") for n in names)
