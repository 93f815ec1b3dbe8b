"""``cache``: what the result cache holds, and filling it from finished runs (a merged run of shards)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common

NAME = "cache"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser(NAME, help="show the result cache, or fill it from run folders (cache import RUN_DIR...)")
    cache.add_argument("action", choices=("show", "import"))
    cache.add_argument("run_dirs", type=Path, nargs="*", help="import: the run folders whose cells to keep")
    cache.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="default: the user cache")


def main(args: argparse.Namespace) -> int:
    from isolation_harness.cellcache import import_run, open_cache
    from isolation_harness.errors import InputError
    from isolation_harness.runfolder import RunFolder

    cache = open_cache(args.cache_dir)
    if args.action == "import":
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
