"""``validate``: the catalogue with a candidate pip and with the baseline release, then compare
(exit 1 on a regression)."""

from __future__ import annotations

import argparse

from packaging.version import Version

from isolation_harness import frontends
from isolation_harness.commands import common
from isolation_harness.commands.run import candidates
from isolation_harness.matrix import Matrix
from isolation_harness.report import verdict_table
from isolation_harness.runfolder import new_run_id
from isolation_harness.runner import RunRequest, RunResult, summary_counts

NAME = "validate"
# The frontends that run pip's code (uv does not), so a pip patch is judged where it acts.
PIP_FRONTENDS = tuple(name for name in frontends.NAMES if frontends.get(name).runs_pip_code)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    val = sub.add_parser(NAME, help="the whole catalogue against a candidate pip and the newest release")
    val.add_argument("--pip", required=True, metavar="PIP", help="the candidate: release, wheel, folder or git+URL@ref")
    val.add_argument("--pyproject-hooks", default=None, metavar="HOOKS")
    val.add_argument("--against", default=None, metavar="VER", help="the baseline release (default: newest in matrix)")
    val.add_argument("--python", action="append", default=[], metavar="X.Y")
    val.add_argument("--scenario", action="append", default=[], metavar="NAME", help="default: every scenario")
    common.input_options(val)
    common.engine_options(val)
    common.cache_options(val)


def main(args: argparse.Namespace) -> int:
    from isolation_harness.compare import compare, render

    inputs = common.Inputs.of(args)
    scenarios = inputs.scenarios(args.scenario)
    matrix = inputs.matrix()
    engine = common.engine(args, inputs.line)
    wheelhouse = common.wheelhouse(args)
    candidate = candidates([args.pip], args.pyproject_hooks, wheelhouse)
    baseline = args.against or max(matrix.pips, key=Version)
    results: dict[str, RunResult] = {}
    cache = common.cache(args)
    for name, pips in (("baseline", [baseline]), ("candidate", candidate)):
        request = RunRequest(
            scenarios,
            matrix,
            engine,
            wheelhouse,
            args.out,
            pythons=args.python,
            pips=pips,
            frontends=_pip_frontends(matrix),
            jobs=args.jobs,
            sources=inputs.line,
            run_id=f"validate-{name}-{new_run_id([s.name for s in scenarios])}",
            cache=cache,
            fresh=args.fresh,
        )
        results[name] = common.run_with_progress(request)
        print(f"{name} (pip {pips[0]}): {summary_counts(results[name].records)}; {results[name].run_dir}")
    changes, unmatched = compare(results["baseline"].records, results["candidate"].records)
    print(verdict_table(results["candidate"].records))
    print()
    print(f"candidate pip {candidate[0]} against pip {baseline}:")
    print(render(changes, unmatched))
    return 1 if any(c.kind == "regression" for c in changes) else 0


def _pip_frontends(matrix: Matrix) -> list[str]:
    """The frontends that run pip's code, each at one release (its newest in the matrix): a pip
    patch is judged in each of pip's modes, not across pypa/build's releases."""
    chosen = []
    for name in PIP_FRONTENDS:
        release = matrix.releases(name)[-1]
        chosen.append(name if release is None else f"{name}=={release}")
    return chosen
