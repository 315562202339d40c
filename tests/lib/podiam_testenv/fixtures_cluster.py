"""pytest plugin: a real Kubernetes control plane (fixture `cluster`) and a kubelet stand-in
with a fresh namespace per test (fixture `kube`).

The cluster starts once per session through tests/cluster/up and is always stopped at the end.
If PODIAM_TEST_APISERVER and PODIAM_TEST_CLUSTER_DIR are set (e.g. after
`eval "$(tests/cluster/up)"` in the shell), that cluster is used and left running.
"""

from __future__ import annotations

import os
import re
from typing import Iterator

import pytest

from .cluster import Cluster, ClusterError
from .kube import Kube, unique


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = Cluster.from_env()
    if c is None:
        try:
            c = Cluster.start()
        except ClusterError as e:  # its message has the tails of the server logs
            pytest.fail(f"could not start the test cluster:\n{e}", pytrace=False)
    try:
        yield c
    finally:
        if c.owned:
            c.stop(keep=bool(os.environ.get("PODIAM_TEST_KEEP_CLUSTER")))


@pytest.fixture
def kube(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Kube]:
    """A Kube bound to the cluster whose default namespace is fresh (named after the test, its
    `default` ServiceAccount present). Its namespace, pods and the nodes it created are deleted
    afterwards."""
    k = Kube(cluster.rest)
    name = re.sub(r"^test_", "", request.node.name.split("[")[0]).replace("_", "-")
    try:
        ns = k.create_namespace(unique(name[:30]))
    except Exception as e:
        raise RuntimeError(f"creating the test namespace failed: {e}\n{cluster.logs_tail(20)}") from e
    k.namespace = ns["metadata"]["name"]
    yield k
    k.delete_namespace(k.namespace)
    for node in k.created_nodes:
        k.delete_node(node)
