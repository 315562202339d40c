"""podiam::k8s against the real control plane: runs the C++ binary podiam_k8s_itest
(src/podiam/k8s/kube_api_itest.cpp), one gtest case per pytest case.

The binary learns about the cluster only from the environment given here: the `cluster`
fixture's PODIAM_TEST_* variables plus PODIAM_TEST_CTL (tests/cluster/ctl, used to restart the
apiserver and compact etcd). It is looked up under $PODIAM_BUILD_DIR (default: build/ under the
repository root); build it with `ninja -C build podiam_k8s_itest`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from podiam_testenv.paths import REPO

pytestmark = pytest.mark.integration

CASES = [
    "RestVerbsAndErrorMapping",
    "WatchSurvivesAnApiserverRestart",
    "GoneAfterCompactionRelistsWithoutLossOrDuplicates",
    "AThousandPodsListedAndWatched",
    "LeaderElectionHandsOverWhenTheLeaderDies",
    "LeastPrivilegeClientGetsClearErrors",
    "TokenReviewOfAPodBoundToken",
    "EventsAreWrittenAndAggregated",
]


def _binary() -> Path:
    build = Path(os.environ.get("PODIAM_BUILD_DIR", REPO / "build"))
    if not build.is_absolute():
        build = REPO / build
    path = build / "src/podiam/k8s/podiam_k8s_itest"
    if not path.exists():
        pytest.fail(f"{path} not found; build it: ninja -C {build} podiam_k8s_itest", pytrace=False)
    return path


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(_binary()), *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def itest_env(cluster) -> dict[str, str]:
    env = dict(os.environ)
    env.update(cluster.environ())
    env["PODIAM_TEST_CTL"] = str(REPO / "tests/cluster/ctl")
    return env


def test_case_list_matches_the_binary(itest_env):
    out = _run(["--gtest_list_tests"], itest_env, 60).stdout
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(CASES), "update CASES in this file"


@pytest.mark.parametrize("case", CASES)
def test_k8s(case, cluster, itest_env):
    try:
        p = _run([f"--gtest_filter=K8sIntegrationTest.{case}", "--gtest_color=no"], itest_env, 600)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{case} timed out\n{e.stdout or ''}{e.stderr or ''}\n{cluster.logs_tail(30)}",
                    pytrace=False)
    if p.returncode != 0 or "[  PASSED  ] 1 test" not in p.stdout:
        pytest.fail(f"podiam_k8s_itest {case} exited {p.returncode}\n"
                    f"--- stdout ---\n{p.stdout[-20000:]}\n--- stderr ---\n{p.stderr[-20000:]}\n"
                    f"{cluster.logs_tail(30)}", pytrace=False)
