"""Fixtures of the chart tests: the pinned helm, the apiserver with the CRDs the chart's optional
objects need (test stand-ins), and one namespace per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from podiam_testenv.helm import Apiserver, Helm, load_all
from podiam_testenv.kube import unique

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def helm(tmp_path_factory) -> Helm:
    return Helm(home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def api(cluster) -> Apiserver:
    a = Apiserver(cluster.rest)
    for crd in load_all(HERE / "stub-crds.yaml"):
        a.ensure(crd)
    return a


@pytest.fixture(scope="module")
def namespace(cluster):
    name = unique("helm")
    cluster.rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": name}})
    yield name
    cluster.rest.delete(f"/api/v1/namespaces/{name}", ok=(404,))
