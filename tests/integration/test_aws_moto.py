"""aws::HttpStsClient over the real transport against moto behind the fault proxy.

The cases are gtest tests in `podiam_aws_itest` (src/podiam/aws/sts_itest.cpp), found under
$PODIAM_BUILD_DIR (default: build/ under the repository root). Each gtest case is one pytest test,
so the `sts` fixture clears the proxy's faults and counts in between, and a failure shows the
binary's own output. The binary reads PODIAM_TEST_STS_ENDPOINT and PODIAM_TEST_STS_CONTROL.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from podiam_testenv.paths import REPO

pytestmark = pytest.mark.integration

BINARY = "podiam_aws_itest"


def _build_dir() -> Path:
    build = Path(os.environ.get("PODIAM_BUILD_DIR", REPO / "build"))
    return build if build.is_absolute() else REPO / build


def _binary() -> Path | None:
    for candidate in (_build_dir() / "src/podiam/aws" / BINARY, _build_dir() / "bin" / BINARY):
        if candidate.exists():
            return candidate
    return None


def _cases() -> list[str]:
    """gtest case names ("Suite.Test"), or a placeholder that fails when the binary is missing."""
    binary = _binary()
    if binary is None:
        return ["<binary missing>"]
    out = subprocess.run([str(binary), "--gtest_list_tests"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    cases, suite = [], ""
    for line in out.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            cases.append(suite + line.split("#")[0].strip())
    return cases


@pytest.mark.parametrize("case", _cases())
def test_sts_client_against_moto(sts, case):
    binary = _binary()
    if binary is None:
        pytest.fail(f"{BINARY} not found under {_build_dir()}; build it: "
                    f"ninja -C {_build_dir()} {BINARY}", pytrace=False)
    env = dict(os.environ,
               PODIAM_TEST_STS_ENDPOINT=sts.endpoint,
               PODIAM_TEST_STS_CONTROL=sts.control_url)
    proc = subprocess.run([str(binary), f"--gtest_filter={case}", "--gtest_color=no"],
                          capture_output=True, text=True, timeout=120, env=env)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "[  PASSED  ] 1 test" not in output:
        pytest.fail(f"{case} failed (exit {proc.returncode}):\n{output}\n"
                    f"proxy stats: {sts.stats()}", pytrace=False)
