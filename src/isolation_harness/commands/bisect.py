"""``bisect``: the first pip release (or commit of a pip clone) where a scenario's verdict changes."""

from __future__ import annotations

import argparse

from isolation_harness.commands import common
from isolation_harness.runfolder import new_run_id
from isolation_harness.runner import RunRequest

NAME = "bisect"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bis = sub.add_parser(NAME, help="the first pip release where a scenario's verdict changes")
    bis.add_argument("--scenario", required=True)
    bis.add_argument("--python", required=True, metavar="X.Y")
    bis.add_argument("--good", required=True, metavar="VER", help="the older release or commit (one verdict)")
    bis.add_argument("--bad", required=True, metavar="VER", help="the newer release or commit (another verdict)")
    bis.add_argument("--pip-repo", default=None, metavar="PATH", help="bisect commits of this pip clone instead")
    common.input_options(bis)
    common.engine_options(bis)


def main(args: argparse.Namespace) -> int:
    from isolation_harness import runner
    from isolation_harness.bisect import bisect, pip_commits, pip_releases
    from isolation_harness.pipsource import resolve_pip

    inputs = common.Inputs.of(args)
    (scenario,) = inputs.scenarios([args.scenario])
    matrix = inputs.matrix()
    if args.pip_repo:
        releases, what = pip_commits(args.pip_repo, args.good, args.bad), "commit"
    else:
        releases, what = pip_releases(args.good, args.bad), "release"
    engine = common.engine(args, inputs.line)
    wheelhouse = common.wheelhouse(args)
    run_id = f"bisect-{new_run_id([scenario.name])}"
    common.log(f"bisecting {len(releases)} {what}s {args.good}..{args.bad} on Python {args.python}")

    def verdict_of(candidate: str) -> str:
        # A commit is built into a wheel once (pypa/build) and runs under its PEP 440 label.
        pip = resolve_pip(f"git+file://{args.pip_repo}@{candidate}", wheelhouse).label if args.pip_repo else candidate
        # Bisecting pip releases: pip's own frontend; every probe is a cell of the same run folder.
        request = RunRequest(
            [scenario], matrix, engine, wheelhouse, args.out, pythons=[args.python], pips=[pip], frontends=["pip"]
        )
        record = runner.run(_one_job(request, run_id, inputs.line)).records[-1]
        common.eprint(f"  pip {pip}: {record.verdict}")
        return record.verdict

    result = bisect(releases, verdict_of)
    print(
        f"first pip {what} with a different verdict: {result.first_changed} "
        f"({result.last_same}: {result.good_verdict}, {result.first_changed}: {result.changed_verdict})"
    )
    print(f"{len(result.probes)} cells run for {len(releases)} {what}s; records in {args.out / run_id}")
    return 0


def _one_job(request: RunRequest, run_id: str, sources: str) -> RunRequest:
    import dataclasses

    return dataclasses.replace(request, jobs=1, run_id=run_id, sources=sources)
