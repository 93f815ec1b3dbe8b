"""``shards``: the GitHub job matrix (JSON) of the catalogue, one job a (scenario, Python)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isolation_harness.commands import common

NAME = "shards"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shards = sub.add_parser(NAME, help="print the GitHub job matrix (JSON) of the catalogue, one job a shard")
    shards.add_argument("--scenario", action="append", default=[], metavar="NAME", help="default: every scenario")
    shards.add_argument("--python", action="append", default=[], metavar="X.Y")
    shards.add_argument(
        "--shards",
        type=int,
        default=None,
        metavar="N",
        help="pack the (scenario, Python) units into N jobs balanced on the cells' measured times "
        "(read from the result cache); default: one job per unit",
    )
    shards.add_argument(
        "--jobs", type=int, default=4, metavar="N", help="cells a job runs at once, for the wall estimate (a runner: 4)"
    )
    shards.add_argument(
        "--cache-dir", type=Path, default=None, metavar="DIR", help="the result cache to read times from"
    )
    common.input_options(shards)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.cellcache import CellCache, default_location
    from isolation_harness.shards import balanced, balanced_matrix, shard_matrix, units

    inputs = common.Inputs.of(args)
    scenarios, matrix = inputs.scenarios(args.scenario), inputs.matrix()
    if args.shards is None:
        print(json.dumps(shard_matrix(scenarios, matrix, pythons=args.python)))
        return 0
    durations = CellCache(args.cache_dir or default_location()).durations()
    found = units(scenarios, matrix, durations, pythons=args.python)
    shards = balanced(found, args.shards)
    # The plan, on stderr: the job matrix alone is the last line of stdout (the workflow reads it).
    measured = sum(1 for u in found if u.measured)
    common.log(f"{len(found)} units ({measured} with measured times, {len(durations)} cells) in {len(shards)} shards:")
    for n, shard in enumerate(shards, 1):
        total = sum(u.estimate for u in shard)
        wall = total / max(1, args.jobs)
        common.log(f"  shard-{n}: estimated wall {wall:.0f} s ({total:.0f} s of cells, {len(shard)} units)")
    print(json.dumps(balanced_matrix(shards)))
    return 0
