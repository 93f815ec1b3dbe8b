"""``table``: the verdict table of a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common
from isolation_harness.report import verdict_table

NAME = "table"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    table = sub.add_parser(NAME, help="print the verdict table of a finished run")
    table.add_argument("run_dir", type=Path)


def main(args: argparse.Namespace) -> int:
    records = common.records(args.run_dir)
    print(verdict_table(records))
    return 0 if all(r.match for r in records) else 1
