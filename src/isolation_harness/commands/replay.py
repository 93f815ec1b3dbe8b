"""``replay``: run a finished run's cells again and list the verdicts that differ."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common
from isolation_harness.runfolder import RunFolder, new_run_id
from isolation_harness.runner import RunRequest, replay_cells

NAME = "replay"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = sub.add_parser(NAME, help="run a finished run's cells again and list verdicts that differ")
    replay.add_argument("run_dir", type=Path)
    common.engine_options(replay)


def main(args: argparse.Namespace) -> int:
    folder = RunFolder.existing(args.run_dir)
    cells, before = replay_cells(folder)
    line = f"replaying {args.run_dir}: scenarios from the run folder"
    engine = common.engine(args, line)
    request = RunRequest(
        [],
        None,
        engine,
        common.wheelhouse(args),
        args.out,
        jobs=args.jobs,
        sources=line,
        run_id=f"replay-{folder.run_id}-{new_run_id([])[:16]}",
        cells=tuple(cells),
    )
    result = common.run_with_progress(request)
    differ = [r for r in result.records if before.get(r.cell) != r.verdict]
    print(f"replayed {len(result.records)} cells of {args.run_dir}; {len(differ)} with a different verdict")
    for record in sorted(differ, key=lambda r: r.cell):
        print(f"  {record.cell}: {before.get(record.cell)} -> {record.verdict}")
    print(f"records in {result.folder.results}")
    return 1 if differ else 0
