"""``run``: replay scenarios over the matrix and record a verdict per cell (or complete a run: --resume)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from isolation_harness import frontends
from isolation_harness.commands import common
from isolation_harness.errors import InputError
from isolation_harness.record import CellRecord
from isolation_harness.report import verdict_table
from isolation_harness.runfolder import RunFolder
from isolation_harness.runner import RunRequest, summary_counts
from isolation_harness.wheelhouse import Wheelhouse

NAME = "run"


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(NAME, help="replay scenarios over the matrix and record a verdict per cell")
    run.add_argument("--scenario", action="append", default=[], metavar="NAME", help="scenario name (repeatable)")
    run.add_argument("--all", action="store_true", help="every scenario of the catalogue")
    run.add_argument(
        "--unit",
        action="append",
        default=[],
        metavar="SCENARIO@X.Y",
        help="a scenario on one Python (repeatable; a balanced shard of `shards --shards N` lists its units)",
    )
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR", help="complete an interrupted run")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run each cell N times; disagreeing is flaky")
    run.add_argument("--timeout", type=int, default=None, metavar="S", help="per-run time limit (overrides scenarios)")
    run.add_argument("--python", action="append", default=[], metavar="X.Y", help="narrow to these Pythons")
    run.add_argument(
        "--frontend",
        action="append",
        default=[],
        metavar="NAME[==RELEASE]",
        help=f"narrow to these frontends ({', '.join(frontends.NAMES)}), or releases of one: build==1.4.2 "
        "(default: matrix.yaml's)",
    )
    run.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="MODE",
        help=f"narrow to these pip modes ({', '.join(frontends.MODE_NAMES)}; default: matrix.yaml's)",
    )
    run.add_argument(
        "--pip",
        action="append",
        default=[],
        metavar="PIP",
        help="a release, a wheel file, a source folder or git+URL@ref (repeatable)",
    )
    run.add_argument(
        "--pyproject-hooks",
        default=None,
        metavar="HOOKS",
        help="overlay this pyproject-hooks (release, wheel or folder) onto each --pip's vendored copy",
    )
    _change_options(run)
    common.input_options(run)
    common.engine_options(run)
    common.cache_options(run)


def _change_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--changes",
        action="store_true",
        help="over every pip release from 19.0 (not only the matrix's): measure the ends, both sides of every change "
        "the scenario expects (and reuse every cached release), then halve each gap whose verdicts differ; prints "
        "the exact first release of every change",
    )
    run.add_argument(
        "--from-ends",
        action="store_true",
        help="with --changes: start from the axis's two ends (and the cached releases) only, not from the two "
        "releases on each side of every change the scenario's expect: rules claim",
    )
    run.add_argument(
        "--recheck",
        type=float,
        default=0.0,
        metavar="PERCENT",
        help="run this percent of the cached cells again for real (at least one) and compare verdicts",
    )


def main(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise InputError("--repeat must be 1 or more")
    if args.timeout is not None and not 5 <= args.timeout <= 3600:
        raise InputError("--timeout must be between 5 and 3600 seconds")
    if not 0 <= args.recheck <= 100:
        raise InputError("--recheck must be a percent between 0 and 100")
    if args.from_ends and not args.changes:
        raise InputError("--from-ends is a way of --changes: add --changes")
    if args.changes and (args.pip or args.resume is not None or args.repeat != 1):
        raise InputError("--changes chooses the pips itself: leave out --pip, --resume and --repeat")
    request = _resumed(args) if args.resume is not None else _new(args)
    cache = common.cache(args)
    if args.recheck and cache is None:
        raise InputError("--recheck compares with the cache: leave out --no-cache")
    request = dataclasses.replace(request, cache=cache, fresh=args.fresh, recheck=args.recheck)
    if args.changes:
        return _changes(args, request)
    result = common.run_with_progress(request)
    print(verdict_table(result.records))
    print(f"\n{summary_counts(result.records)}; records in {result.folder.results}")
    line = common.cache_line(result.records)
    if line:
        print(line)
    return 0 if result.all_matched else 1


def _changes(args: argparse.Namespace, request: RunRequest) -> int:
    from isolation_harness.bisect import index_versions
    from isolation_harness.changes import pip_axis, run_changes

    releases = pip_axis(index_versions("pip"))
    common.log(f"change points over {len(releases)} pip releases, {releases[0]} to {releases[-1]}")
    result = run_changes(dataclasses.replace(request, on_record=_progress_line), releases, from_ends=args.from_ends)
    print(verdict_table(result.records))
    print()
    for axis in result.axes:
        print(axis.line())
        for change in axis.changes:
            print(
                f"  first {change.after} at pip {change.first_changed} ({change.last_same}: {change.before})"
                + axis.said(change)
            )
        for release in axis.refuted:
            print(f"  no change at pip {release}, where the scenario's expect: puts one")
    whole = sum(len(a.releases) for a in result.axes)
    share = 100 * len(result.records) / whole if whole else 0.0
    cells = f"{len(result.records)} cells of the {whole} on the whole axes ({share:.1f}%)"
    print(f"\n{summary_counts(result.records)}; {cells}")
    print(f"records in {result.folder.results}; axes in {result.folder.path / 'changes.json'}")
    line = common.cache_line(result.records)
    if line:
        print(line)
    return 0 if all(r.match for r in result.records) else 1


def _progress_line(record: CellRecord, done: int, total: int) -> None:
    common.eprint(f"  {record.cell}: {record.verdict}{'' if record.match else ' (unexpected)'} {record.duration:.1f}s")


def _units(args: argparse.Namespace) -> frozenset[tuple[str, str]] | None:
    """--unit SCENARIO@X.Y, each a scenario on one Python; they name the scenarios and Pythons."""
    if not args.unit:
        return None
    if args.scenario or args.all or args.python:
        raise InputError("--unit names the scenarios and Pythons: leave out --scenario, --all and --python")
    pairs = []
    for value in args.unit:
        scenario, sep, python = value.rpartition("@")
        if not sep or not scenario or not python:
            raise InputError(f"--unit {value}: expected SCENARIO@X.Y, such as metapath@3.11")
        pairs.append((scenario, python))
    args.scenario = list(dict.fromkeys(s for s, _ in pairs))
    args.python = list(dict.fromkeys(p for _, p in pairs))
    return frozenset(pairs)


def _new(args: argparse.Namespace) -> RunRequest:
    units = _units(args)
    if bool(args.scenario) == args.all:
        which = "--scenario or --all, not both" if args.all else "--scenario NAME, --all (every scenario)"
        raise InputError(f"run needs {which} (or --resume RUN_DIR)")
    inputs = common.Inputs.of(args)
    scenarios = inputs.scenarios(args.scenario)  # none named (--all): every scenario
    matrix = inputs.matrix()
    engine = common.engine(args, inputs.line)
    wheelhouse = common.wheelhouse(args)
    return RunRequest(
        scenarios,
        matrix,
        engine,
        wheelhouse,
        args.out,
        pythons=args.python,
        pips=candidates(args.pip, args.pyproject_hooks, wheelhouse),
        frontends=args.frontend,
        modes=args.mode,
        jobs=args.jobs,
        repeat=args.repeat,
        timeout=args.timeout,
        sources=inputs.line,
        units=units,
    )


def _resumed(args: argparse.Namespace) -> RunRequest:
    """The run's own plan and scenario copies; the matrix file of today (its known failures)."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("scenario", "all", "unit", "python", "pip", "frontend", "mode")
        if getattr(args, name)
    ]
    if given:
        # The run's own plan is completed: a narrowing given here would be silently ignored.
        raise InputError(f"--resume completes the run's own plan: leave out {', '.join(given)}")
    folder = RunFolder(args.resume)
    plan = folder.plan()
    inputs = common.Inputs.of(args)
    engine = common.engine(args, f"resuming {args.resume}: scenarios and plan from the run folder")
    return RunRequest(
        [folder.scenario(name) for name in plan.scenarios],
        inputs.matrix(),
        engine,
        common.wheelhouse(args),
        folder.path.parent,
        pythons=plan.pythons,
        pips=plan.pips,
        frontends=plan.frontends,
        modes=plan.modes,
        jobs=args.jobs,
        repeat=plan.repeat,
        timeout=plan.timeout,
        sources=plan.sources,
        run_id=folder.run_id,
        only=frozenset(plan.cells),
    )


def candidates(pips: list[str], hooks: str | None, wheelhouse: Wheelhouse) -> list[str]:
    """Resolve --pip values (building non-releases once) and apply any pyproject-hooks overlay."""
    from isolation_harness.pipsource import is_release, resolve_pip

    if hooks and not pips:
        raise InputError("--pyproject-hooks needs --pip: name the pip releases or candidates to overlay")
    labels = []
    for value in pips:
        if is_release(value) and not hooks:
            labels.append(value)  # checked and downloaded when the cells are planned
        else:
            labels.append(resolve_pip(value, wheelhouse, hooks=hooks).label)
    return labels
