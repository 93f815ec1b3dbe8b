"""``compare``: the cells whose verdict changed between two runs; exit 1 on a regression."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common

NAME = "compare"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = sub.add_parser(NAME, help="cells whose verdict changed between two runs; exit 1 on a regression")
    compare.add_argument("base", type=Path)
    compare.add_argument("candidate", type=Path)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.compare import compare, render

    changes, unmatched = compare(common.records(args.base), common.records(args.candidate))
    print(render(changes, unmatched))
    return 1 if any(c.kind == "regression" for c in changes) else 0
