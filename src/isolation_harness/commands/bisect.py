"""``bisect``: the first pip release (or commit of a pip clone), or the first release of another
frontend (``--frontend build``), where a scenario's verdict changes."""

from __future__ import annotations

import argparse
import dataclasses

from packaging.version import Version

from isolation_harness import frontends
from isolation_harness.commands import common
from isolation_harness.errors import InputError
from isolation_harness.matrix import Matrix
from isolation_harness.runfolder import new_run_id
from isolation_harness.runner import RunRequest

NAME = "bisect"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bis = sub.add_parser(NAME, help="the first pip (or frontend) release where a scenario's verdict changes")
    bis.add_argument("--scenario", required=True)
    bis.add_argument("--python", required=True, metavar="X.Y")
    bis.add_argument("--good", required=True, metavar="VER", help="the older release or commit (one verdict)")
    bis.add_argument("--bad", required=True, metavar="VER", help="the newer release or commit (another verdict)")
    bis.add_argument("--pip-repo", default=None, metavar="PATH", help="bisect commits of this pip clone instead")
    bis.add_argument(
        "--frontend",
        default=frontends.DEFAULT,
        choices=frontends.NAMES,
        help="bisect this frontend's own releases (build, uv); default pip: pip's releases",
    )
    bis.add_argument(
        "--mode", default=frontends.DEFAULT_MODE, choices=frontends.MODE_NAMES, help="pip's mode (default: default)"
    )
    bis.add_argument(
        "--pip", default=None, metavar="PIP", help="with --frontend build/uv: the host's pip (default: matrix's newest)"
    )
    common.input_options(bis)
    common.engine_options(bis)
    common.cache_options(bis)


def main(args: argparse.Namespace) -> int:
    from isolation_harness import runner
    from isolation_harness.bisect import bisect, pip_commits, pip_releases
    from isolation_harness.pipsource import resolve_pip

    inputs = common.Inputs.of(args)
    (scenario,) = inputs.scenarios([args.scenario])
    matrix = inputs.matrix()
    along_pip = args.frontend == frontends.DEFAULT
    if not along_pip and (args.pip_repo or args.mode != frontends.DEFAULT_MODE):
        raise InputError(f"--frontend {args.frontend}: bisects its own releases; --pip-repo and --mode are pip's")
    dist = "pip" if along_pip else (frontends.distribution(args.frontend) or args.frontend)
    if args.pip_repo:
        releases, what = pip_commits(args.pip_repo, args.good, args.bad), "commit"
    else:
        releases, what = pip_releases(args.good, args.bad, dist=dist), "release"
    engine = common.engine(args, inputs.line)
    wheelhouse = common.wheelhouse(args)
    run_id = f"bisect-{new_run_id([scenario.name])}"
    common.log(f"bisecting {len(releases)} {dist} {what}s {args.good}..{args.bad} on Python {args.python}")
    host_pip = args.pip or _newest(matrix)
    cache = common.cache(args)

    def verdict_of(candidate: str) -> str:
        if along_pip:
            # A commit is built into a wheel once (pypa/build) and runs under its PEP 440 label.
            pip = (
                resolve_pip(f"git+file://{args.pip_repo}@{candidate}", wheelhouse).label if args.pip_repo else candidate
            )
            pips, chosen, modes = [pip], ["pip"], [args.mode]
        else:  # the frontend's release under test, with one pip in the host environment
            pips, chosen, modes = [host_pip], [f"{args.frontend}=={candidate}"], []
        # Every probe is a cell of the same run folder.
        request = RunRequest(
            [scenario],
            matrix,
            engine,
            wheelhouse,
            args.out,
            pythons=[args.python],
            pips=pips,
            frontends=chosen,
            modes=modes,
            cache=cache,
            fresh=args.fresh,
        )
        record = runner.run(_one_job(request, run_id, inputs.line)).records[-1]
        if record.not_applicable:
            raise InputError(f"{dist} {candidate} on Python {args.python}: no cell ({record.not_applicable})")
        common.eprint(f"  {dist} {candidate}: {record.verdict}")
        return record.verdict

    result = bisect(releases, verdict_of)
    print(
        f"first {dist} {what} with a different verdict: {result.first_changed} "
        f"({result.last_same}: {result.good_verdict}, {result.first_changed}: {result.changed_verdict})"
    )
    print(f"{len(result.probes)} cells run for {len(releases)} {what}s; records in {args.out / run_id}")
    return 0


def _newest(matrix: Matrix) -> str:
    return max(matrix.pips, key=Version)


def _one_job(request: RunRequest, run_id: str, sources: str) -> RunRequest:
    return dataclasses.replace(request, jobs=1, run_id=run_id, sources=sources)
