"""``merge``: join the records of shard runs into one run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.report import verdict_table

NAME = "merge"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = sub.add_parser(NAME, help="join the records of shard runs into one run folder")
    merge.add_argument("run_dirs", type=Path, nargs="+")
    merge.add_argument("--out", type=Path, required=True, help="the new run folder")


def main(args: argparse.Namespace) -> int:
    from isolation_harness.shards import merge

    records = merge(args.run_dirs, args.out)
    print(verdict_table(records))
    print(f"\nmerged {len(records)} cells from {len(args.run_dirs)} runs into {args.out}")
    return 0 if all(r.match for r in records) else 1
