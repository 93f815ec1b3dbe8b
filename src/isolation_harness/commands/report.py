"""``report``: report.md, junit.xml and report.html of a run (and the GitHub step summary)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isolation_harness.commands import common
from isolation_harness.report import append_step_summary, markdown, write_reports

NAME = "report"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(NAME, help="write report.md, junit.xml and report.html for a run")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--out", type=Path, default=None, help="folder for the reports (default: the run folder)")


def main(args: argparse.Namespace) -> int:
    records = common.records(args.run_dir)
    written = write_reports(records, args.run_dir.resolve(), args.out or args.run_dir)
    for path in written.values():
        print(path)
    if append_step_summary(markdown(records)):
        print("appended to $GITHUB_STEP_SUMMARY")
    return 0
