"""The AWS SDK for Go v2 test program (tests/go/whoami): built on demand into
$PODIAM_CACHE/go-whoami/<hash of its sources>/whoami, under a lock so that parallel sessions build
it once. Modules come through the Go module proxy into the usual GOMODCACHE, pinned by
tests/go/whoami/go.mod and go.sum (-mod=readonly); nothing is committed but the sources.

    whoami = gosdk.whoami_binary()     # Path; prints {"Arn": ..., ...} like tests/js/whoami.mjs
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from . import paths

SOURCE = paths.TESTS / "go" / "whoami"


def _cache_dir() -> Path:
    return Path(os.environ.get("PODIAM_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "podiam") / "go-whoami"


def whoami_binary(timeout: float = 600) -> Path:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    out_dir = _cache_dir() / digest.hexdigest()[:16]
    binary = out_dir / "whoami"
    if binary.exists():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        go = shutil.which("go") or "/usr/local/go/bin/go"
        env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
               "GOFLAGS": f"{os.environ.get('GOFLAGS', '-p=2')} -mod=readonly"}
        tmp = out_dir / "whoami.tmp"
        proc = subprocess.run([go, "build", "-trimpath", "-o", str(tmp), "."], cwd=SOURCE, env=env,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"building tests/go/whoami failed:\n{proc.stderr}{proc.stdout}")
        os.replace(tmp, binary)
    return binary
