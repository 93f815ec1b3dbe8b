"""``cache``: what the result cache holds, and filling it from finished runs (a merged run of shards)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common

NAME = "cache"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser(
        NAME,
        help="show the result cache, fill it from run folders (cache import RUN_DIR...), or remove what no run "
        "has used for a while (cache prune --unused-days N)",
    )
    cache.add_argument("action", choices=("show", "import", "prune"))
    cache.add_argument("run_dirs", type=Path, nargs="*", help="import: the run folders whose cells to keep")
    cache.add_argument(
        "--unused-days",
        type=float,
        default=None,
        metavar="N",
        help="prune: remove the entries no run has measured, reused or imported for N days",
    )
    cache.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="default: the user cache")


def main(args: argparse.Namespace) -> int:
    from isolation_harness.cellcache import import_run, open_cache
    from isolation_harness.errors import InputError
    from isolation_harness.runfolder import RunFolder

    if (args.action == "prune") != (args.unused_days is not None):
        raise InputError("--unused-days N goes with cache prune (and cache prune needs it)")
    if args.unused_days is not None and args.unused_days < 0:
        raise InputError("--unused-days must be 0 or more")
    cache = open_cache(args.cache_dir)
    if args.action == "prune":
        if args.run_dirs:
            raise InputError("cache prune takes no run folders")
        removed, kept = cache.prune(args.unused_days)
        print(f"{removed} entries unused for {args.unused_days:g} days removed, {kept} kept")
    elif args.action == "import":
        if not args.run_dirs:
            raise InputError("cache import needs the run folders to keep (results/<run-id>)")
        for run_dir in args.run_dirs:
            kept, skipped = import_run(cache, RunFolder.existing(run_dir))
            print(f"{run_dir}: {kept} cells kept, {skipped} not (undecided, not keyed, or without their output)")
    elif args.run_dirs:
        raise InputError("cache show takes no run folders")
    durations = cache.durations()
    common.log(f"cache {cache.root}: {len(durations)} cells, {sum(durations.values()):.0f} s of measured cell time")
    return 0
