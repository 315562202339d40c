#!/usr/bin/env python3
"""clang-tidy over translation units, skipping those already found clean with the same input.

A unit's key is the SHA-256 of: clang-tidy's version, the .clang-tidy config, the unit's compile
flags and its preprocessed source (every header it includes, expanded), with the clone's own path
masked so that another clone of the same code hits. A clean result is remembered as an empty file
named by the key in the cache directory; warnings are never cached. Units run in parallel.

    scripts/tidy_cached.py --db build-tidy --cache ~/.cache/podiam/tidy --root . -j 2 FILE...

Exit 0 when every unit is clean; otherwise 1, with the warnings on stdout.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path


def compile_args(entry: dict) -> list[str]:
    return entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])


def preprocess_args(args: list[str], source: str) -> list[str]:
    """The unit's compiler invocation, made to print its preprocessed source without line
    markers: -c and -o dropped, -E -P added."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-o"):
            continue
        out.append(a)
    return [*out, "-E", "-P", "-o", "-"]


def key_of(entry: dict, root: str, salt: bytes) -> str:
    args = compile_args(entry)
    pre = subprocess.run(preprocess_args(args, entry["file"]), cwd=entry["directory"],
                         capture_output=True, check=False)
    if pre.returncode != 0:
        return ""  # cannot key it: always run clang-tidy
    h = hashlib.sha256(salt)
    flags = [a.replace(root, "<root>") for a in args if not a.startswith("-o")]
    h.update("\0".join(flags).encode())
    h.update(pre.stdout.replace(root.encode(), b"<root>"))
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    root = str(Path(a.root).resolve())
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    db = {str(Path(e["directory"], e["file"]).resolve()): e
          for e in json.loads((Path(a.db) / "compile_commands.json").read_text())}
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, check=True).stdout
    salt = version + (Path(root) / ".clang-tidy").read_bytes()

    def check(path: str) -> tuple[str, bool, str, bool]:
        full = str(Path(path).resolve())
        entry = db.get(full)
        key = key_of(entry, root, salt) if entry else ""
        if key and (cache / key).exists():
            return path, True, "", True
        r = subprocess.run(["clang-tidy", "-p", a.db, "--quiet", full], capture_output=True,
                           text=True, check=False)
        text = r.stdout + r.stderr
        clean = r.returncode == 0 and "warning:" not in text and "error:" not in text
        if clean and key:
            (cache / key).touch()
        return path, clean, text, False

    failed, cached = 0, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.j)) as pool:
        for path, clean, text, hit in pool.map(check, a.files):
            cached += hit
            if not clean:
                failed += 1
                print(f"== {path}\n{text}")
    print(f"clang-tidy: {len(a.files)} units, {cached} unchanged since a clean run, "
          f"{failed} with findings", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
