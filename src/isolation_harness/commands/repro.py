"""``repro``: a standalone shell script that replays one recorded cell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isolation_harness.wheelhouse import Wheelhouse

NAME = "repro"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    repro = sub.add_parser(NAME, help="print a standalone shell script that replays one cell")
    repro.add_argument("run_dir", type=Path)
    repro.add_argument("cell", help="the cell id, e.g. metapath/py3.12/pip24.0/pip")
    repro.add_argument("--wheelhouse", type=Path, default=None)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.repro import script

    house = Wheelhouse(args.wheelhouse) if args.wheelhouse else None
    sys.stdout.write(script(args.run_dir, args.cell, wheelhouse=house))
    return 0
