"""``bench``: cold and warm timings of the benchmark set (docker engine)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from isolation_harness.commands import common
from isolation_harness.errors import InputError
from isolation_harness.scenario import load_scenarios

NAME = "bench"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(NAME, help="cold and warm timings of the benchmark set (docker engine)")
    bench.add_argument(
        "--full",
        action="store_true",
        help="also the catalogue cold, warm and rerun from the result cache, and run --changes on metapath",
    )
    bench.add_argument("--scenario", action="append", default=[], metavar="NAME", help="--full: these scenarios only")
    common.input_options(bench)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.bench import run

    inputs = common.Inputs.of(args)
    scenarios = load_scenarios(inputs.scenarios_dir)
    for name in args.scenario:
        if name not in scenarios:
            raise InputError(f"--scenario {name}: no such scenario in {inputs.scenarios_dir}")
    with tempfile.TemporaryDirectory(prefix="ih-bench-") as out:
        lines = run(scenarios, inputs.matrix(), full=args.full, out=Path(out), only=args.scenario)
    print("\n".join(["", "figures:", *lines]))
    return 0
