"""The command line: argument parsing and error-to-exit-code, nothing more."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from isolation_harness import __version__
from isolation_harness.engines import select_engine
from isolation_harness.errors import HarnessError
from isolation_harness.matrix import load_matrix
from isolation_harness.records import read_records
from isolation_harness.report import cell_line, verdict_table
from isolation_harness.runner import RunOptions, eprint, execute, new_run_id, prepare, summary_counts
from isolation_harness.scenario import find_scenario, load_scenarios
from isolation_harness.wheelhouse import Wheelhouse, default_location


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isolation-harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="replay scenarios over the matrix and record a verdict per cell")
    run.add_argument("--scenario", action="append", required=True, metavar="NAME", help="scenario name (repeatable)")
    run.add_argument("--python", action="append", default=[], metavar="X.Y", help="narrow to these Pythons")
    run.add_argument("--pip", action="append", default=[], metavar="VER", help="narrow to these pip releases")
    run.add_argument("--engine", default="auto", choices=("auto", "docker", "local"))
    run.add_argument("--jobs", type=int, default=0, help="cells in parallel (default: the number of cores)")
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for run folders (default: results)")
    run.add_argument("--scenarios-dir", type=Path, default=Path("scenarios"))
    run.add_argument("--matrix", type=Path, default=Path("matrix.yaml"))
    run.add_argument("--wheelhouse", type=Path, default=None, help="wheel directory (default: user cache)")
    run.add_argument("--keep", action="store_true", help="keep each cell's container or folder for debugging")

    show = sub.add_parser("list", help="list the scenarios and their summaries")
    show.add_argument("--scenarios-dir", type=Path, default=Path("scenarios"))

    images = sub.add_parser("images", help="build the docker images the matrix needs (reused when present)")
    images.add_argument("--python", action="append", default=[], metavar="X.Y", help="only these Pythons")
    images.add_argument("--matrix", type=Path, default=Path("matrix.yaml"))

    table = sub.add_parser("table", help="print the verdict table of a finished run")
    table.add_argument("run_dir", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for scenario in load_scenarios(args.scenarios_dir).values():
                print(f"{scenario.name}: {scenario.summary}")
            return 0
        if args.command == "images":
            return _images(args)
        if args.command == "table":
            damaged: list[str] = []
            records = read_records(args.run_dir, damaged=damaged)
            for line in damaged:
                eprint(line)
            print(verdict_table(records))
            return 0 if all(r["match"] for r in records) else 1
        return _run(args)
    except HarnessError as exc:
        eprint(f"isolation-harness: error: {exc.message}")
        return exc.code
    except KeyboardInterrupt:
        eprint("isolation-harness: interrupted; finished records are kept")
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _images(args: argparse.Namespace) -> int:
    from isolation_harness.engines.docker import DockerEngine

    pythons = args.python or list(load_matrix(args.matrix).pythons)
    engine = DockerEngine(log=lambda m: eprint(f"isolation-harness: {m}"))
    for python in pythons:
        start = time.monotonic()
        image = engine.images.get(python)
        print(
            f"{image.tag}  {image.id[:19]}  Python {image.version}  ({image.recipe}, {time.monotonic() - start:.1f} s)"
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.jobs < 0:
        raise HarnessError("--jobs must be 0 (one per core) or more")
    scenarios = [find_scenario(args.scenarios_dir, name) for name in dict.fromkeys(args.scenario)]
    matrix = load_matrix(args.matrix)
    engine = select_engine(args.engine, keep=args.keep, log=lambda m: eprint(f"isolation-harness: {m}"))
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    options = RunOptions(pythons=args.python, pips=args.pip, jobs=args.jobs, out=args.out)
    info = engine.info()
    if info.isolation != "container":
        eprint(
            f"isolation-harness: warning: engine '{info.name}' gives weaker isolation than a container: "
            + "; ".join(info.notes)
        )
    cells = prepare(scenarios, matrix, engine, wheelhouse, options)
    run_id = new_run_id(scenarios)
    eprint(f"isolation-harness: run {run_id}: {len(cells)} cells on engine '{info.name}'")
    # SIGTERM (a cancelled CI job) cleans up like Ctrl-C: running cells are killed and removed,
    # finished records stay.
    signal.signal(signal.SIGTERM, _interrupt)
    result = execute(
        cells,
        engine=engine,
        wheelhouse=wheelhouse,
        options=options,
        run_id=run_id,
        on_record=lambda record, done, total: eprint(cell_line(record, done, total)),
    )
    print(verdict_table(result.records))
    print(f"\n{summary_counts(result.records)}; records in {result.run_dir / 'results.jsonl'}")
    return 0 if result.all_matched else 1


if __name__ == "__main__":
    sys.exit(main())
