"""docs/explain.md's example outputs are real: every block announced by
`<!-- example: podiam ARGS (exit N) -->` is what `podiam ARGS` prints now, with that exit code.
PODIAM_UPDATE_DOCS=1 rewrites the blocks from the binary instead of comparing (then review the
diff). Offline: `podiam explain policy` reads no cluster."""

import os
import re
import shlex
import subprocess

import pytest

from podiam_testenv import paths
from podiam_testenv.agent import podiam_binary

pytestmark = pytest.mark.integration

DOC = paths.REPO / "docs" / "explain.md"
EXAMPLE = re.compile(r"<!-- example: podiam (?P<args>.*?) \(exit (?P<code>\d)\) -->\n"
                     r"```(?P<lang>\w*)\n(?P<out>.*?)```\n", re.S)


def run(args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([str(podiam_binary()), *shlex.split(args)], capture_output=True,
                          text=True, timeout=30, env=env, check=False)


def test_examples_in_the_doc_are_what_the_binary_prints():
    text = DOC.read_text()
    examples = list(EXAMPLE.finditer(text))
    assert len(examples) >= 4, "docs/explain.md lost its examples"
    if os.environ.get("PODIAM_UPDATE_DOCS") == "1":
        def regenerate(m):
            r = run(m["args"])
            return (f"<!-- example: podiam {m['args']} (exit {r.returncode}) -->\n"
                    f"```{m['lang']}\n{r.stdout}```\n")
        DOC.write_text(EXAMPLE.sub(regenerate, text))
        text = DOC.read_text()
        examples = list(EXAMPLE.finditer(text))
    for m in examples:
        r = run(m["args"])
        assert r.stderr == "", r.stderr
        assert r.returncode == int(m["code"]), (m["args"], r.returncode)
        assert r.stdout == m["out"], (
            f"docs/explain.md is stale for `podiam {m['args']}` "
            f"(PODIAM_UPDATE_DOCS=1 regenerates it):\n{r.stdout}")
