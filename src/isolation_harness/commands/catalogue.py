"""``catalogue``: the status page of the catalogue (catalogue.md and catalogue.html) from a run: each
scenario's upstream state beside the newest releases' verdicts, flagging an open report that no
longer reproduces and a fixed one that reproduces again."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness import catalogue
from isolation_harness.commands import common
from isolation_harness.report import append_step_summary
from isolation_harness.wheelstore import atomic_write

NAME = "catalogue"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(NAME, help="write the catalogue's status page (upstream state vs. the newest verdicts)")
    parser.add_argument("run_dir", type=Path, nargs="?", default=None, help="a run folder (none: the states only)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the page (default: the run folder, or .)")
    common.input_options(parser, matrix=False)


def main(args: argparse.Namespace) -> int:
    inputs = common.Inputs.of(args)
    records = common.records(args.run_dir) if args.run_dir is not None else []
    items = catalogue.statuses(inputs.scenarios([]), records)
    out = args.out or args.run_dir or Path()
    out.mkdir(parents=True, exist_ok=True)
    text = catalogue.markdown(items)
    for name, content in (
        ("catalogue.md", text),
        ("catalogue.html", catalogue.html_page(items, "isolation-harness catalogue status")),
    ):
        atomic_write(out / name, content)
        print(out / name)
    for status in items:
        if status.flag:
            common.log(f"{status.scenario}: {status.flag} ({status.checked})")
    if append_step_summary(text):
        print("appended to $GITHUB_STEP_SUMMARY")
    return 0
