"""Where things are: the repository, tests/js, and the virtualenv's tools.

Everything is derived from this file's location and from the running interpreter (the tests run
with the venv's python, created by scripts/setup.d/20-python.sh), never from fixed paths.
"""

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TESTS = REPO / "tests"
JS_DIR = TESTS / "js"

# sys.prefix is the venv when pytest runs from it; fall back to $PODIAM_CACHE/venv otherwise.
_cache = os.environ.get("PODIAM_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "podiam")
VENV = Path(sys.prefix) if (Path(sys.prefix) / "bin" / "moto_server").exists() else Path(_cache) / "venv"
VENV_BIN = VENV / "bin"
PYTHON = VENV_BIN / "python"
AWS_CLI = VENV_BIN / "aws"
MOTO_SERVER = VENV_BIN / "moto_server"


def tool(name: str) -> str:
    """Absolute path of a system tool (ip, iptables, node), so PATH in a pod's env does not matter."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not found:
        raise RuntimeError(f"{name} not found; run scripts/setup")
    return found
