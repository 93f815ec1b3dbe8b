"""``list``: the scenarios of the catalogue and their summaries."""

from __future__ import annotations

import argparse

from isolation_harness import resources
from isolation_harness.commands import common
from isolation_harness.scenario import load_scenarios

NAME = "list"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = sub.add_parser(NAME, help="list the scenarios and their summaries")
    common.input_options(show, matrix=False)


def main(args: argparse.Namespace) -> int:
    source = resources.scenarios_dir(args.scenarios_dir)
    print(f"{source.describe()}:")
    for scenario in load_scenarios(source.path).values():
        print(f"  {scenario.name}: {scenario.summary}")
    return 0
