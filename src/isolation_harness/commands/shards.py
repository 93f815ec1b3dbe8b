"""``shards``: the GitHub job matrix (JSON) of the catalogue, one job a (scenario, Python)."""

from __future__ import annotations

import argparse
import json

from isolation_harness.commands import common

NAME = "shards"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shards = sub.add_parser(NAME, help="print the GitHub job matrix (JSON) of the catalogue, one job a shard")
    shards.add_argument("--scenario", action="append", default=[], metavar="NAME", help="default: every scenario")
    shards.add_argument("--python", action="append", default=[], metavar="X.Y")
    common.input_options(shards)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.shards import shard_matrix

    inputs = common.Inputs.of(args)
    print(json.dumps(shard_matrix(inputs.scenarios(args.scenario), inputs.matrix(), pythons=args.python)))
    return 0
