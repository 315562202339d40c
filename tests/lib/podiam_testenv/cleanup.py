"""Remove network namespaces left by crashed test runs.

Test namespaces are named pdm-<owner pid>-<random>-node / -pod<i>. By default only those whose
owner process is gone are removed; --all removes every pdm-* namespace (stop test runs first).

    python -m podiam_testenv.cleanup [--all] [--dry-run]
"""

import argparse
import os
import sys

from .netns import NAME_PREFIX, delete_netns, list_test_namespaces


def _owner_alive(name: str) -> bool:
    pid = name.removeprefix(NAME_PREFIX).split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale(include_live: bool = False) -> list[str]:
    names = list_test_namespaces()
    # pods first: a node's veths go when its pods go, and vice versa, so order is cosmetic
    names.sort(key=lambda n: n.endswith("-node"))
    return [n for n in names if include_live or not _owner_alive(n)]


def remove(names: list[str]) -> list[str]:
    for name in names:
        delete_netns(name)
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="also namespaces of running test processes")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    names = stale(include_live=args.all)
    for name in names:
        print(("would remove " if args.dry_run else "removing ") + name)
    if not args.dry_run:
        remove(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
