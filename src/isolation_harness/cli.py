"""The command line: argument parsing and error-to-exit-code, nothing more."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from packaging.version import Version

from isolation_harness import __version__, resources
from isolation_harness.engines import Engine, select_engine
from isolation_harness.errors import HarnessError, InputError
from isolation_harness.frontends import NAMES as FRONTEND_NAMES
from isolation_harness.matrix import Cell, load_matrix
from isolation_harness.progress import Progress
from isolation_harness.records import read_records
from isolation_harness.report import append_step_summary, markdown, verdict_table, write_reports
from isolation_harness.runner import (
    RunOptions,
    RunResult,
    eprint,
    execute,
    load_plan,
    new_run_id,
    prepare,
    replay_cells,
    summary_counts,
)
from isolation_harness.scenario import Scenario, find_scenario, load_scenarios
from isolation_harness.wheelhouse import Wheelhouse, default_location

SCENARIOS_HELP = "scenario folder (default: ./scenarios when present, else the bundled catalogue)"
MATRIX_HELP = "matrix file (default: ./matrix.yaml when present, else the bundled one)"


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="auto", choices=("auto", "docker", "local"))
    parser.add_argument("--jobs", type=int, default=0, help="cells in parallel (default: the number of cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for run folders (default: results)")
    parser.add_argument("--wheelhouse", type=Path, default=None, help="wheel directory (default: user cache)")
    parser.add_argument("--keep", action="store_true", help="keep each cell's container or folder for debugging")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isolation-harness", description="Replay build-isolation bugs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="replay scenarios over the matrix and record a verdict per cell")
    run.add_argument("--scenario", action="append", default=[], metavar="NAME", help="scenario name (repeatable)")
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR", help="complete an interrupted run")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run each cell N times; disagreeing is flaky")
    run.add_argument("--timeout", type=int, default=None, metavar="S", help="per-run time limit (overrides scenarios)")
    run.add_argument("--python", action="append", default=[], metavar="X.Y", help="narrow to these Pythons")
    run.add_argument(
        "--frontend",
        action="append",
        default=[],
        metavar="NAME",
        help=f"narrow to these frontends ({', '.join(FRONTEND_NAMES)}; default: matrix.yaml's)",
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
    run.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    run.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)
    _engine_options(run)

    show = sub.add_parser("list", help="list the scenarios and their summaries")
    show.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)

    images = sub.add_parser("images", help="build the docker images the matrix needs (reused when present)")
    images.add_argument("--python", action="append", default=[], metavar="X.Y", help="only these Pythons")
    images.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)

    table = sub.add_parser("table", help="print the verdict table of a finished run")
    table.add_argument("run_dir", type=Path)

    report = sub.add_parser("report", help="write report.md, junit.xml and report.html for a run")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--out", type=Path, default=None, help="folder for the reports (default: the run folder)")

    compare = sub.add_parser("compare", help="cells whose verdict changed between two runs; exit 1 on a regression")
    compare.add_argument("base", type=Path)
    compare.add_argument("candidate", type=Path)

    repro = sub.add_parser("repro", help="print a standalone shell script that replays one cell")
    repro.add_argument("run_dir", type=Path)
    repro.add_argument("cell", help="the cell id, e.g. metapath/py3.12/pip24.0/pip")
    repro.add_argument("--wheelhouse", type=Path, default=None)

    bis = sub.add_parser("bisect", help="the first pip release where a scenario's verdict changes")
    bis.add_argument("--scenario", required=True)
    bis.add_argument("--python", required=True, metavar="X.Y")
    bis.add_argument("--good", required=True, metavar="VER", help="the older release or commit (one verdict)")
    bis.add_argument("--bad", required=True, metavar="VER", help="the newer release or commit (another verdict)")
    bis.add_argument("--pip-repo", default=None, metavar="PATH", help="bisect commits of this pip clone instead")
    bis.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    bis.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)
    _engine_options(bis)

    val = sub.add_parser("validate", help="the whole catalogue against a candidate pip and the newest release")
    val.add_argument("--pip", required=True, metavar="PIP", help="the candidate: release, wheel, folder or git+URL@ref")
    val.add_argument("--pyproject-hooks", default=None, metavar="HOOKS")
    val.add_argument("--against", default=None, metavar="VER", help="the baseline release (default: newest in matrix)")
    val.add_argument("--python", action="append", default=[], metavar="X.Y")
    val.add_argument("--scenario", action="append", default=[], metavar="NAME", help="default: every scenario")
    val.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    val.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)
    _engine_options(val)

    shards = sub.add_parser("shards", help="print the GitHub job matrix (JSON) of the catalogue, one job a shard")
    shards.add_argument("--scenario", action="append", default=[], metavar="NAME", help="default: every scenario")
    shards.add_argument("--python", action="append", default=[], metavar="X.Y")
    shards.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    shards.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)

    merge = sub.add_parser("merge", help="join the records of shard runs into one run folder")
    merge.add_argument("run_dirs", type=Path, nargs="+")
    merge.add_argument("--out", type=Path, required=True, help="the new run folder")

    diag = sub.add_parser(
        "diagnose", help="what did a project's isolated build see, in your environment and a clean one"
    )
    diag.add_argument("project", help="a project folder, an sdist, or a git+URL")
    diag.add_argument("--env-python", default=None, help="the environment to diagnose (default: python3 on PATH)")
    diag.add_argument("--frontend", default="pip", choices=("pip", "build"), help="pip (default) or pypa/build")
    diag.add_argument("--pip", default=None, help="pip release for the clean build (default: the environment's)")
    diag.add_argument(
        "--python", default=None, metavar="X.Y", help="Python for the clean build (default: the environment's)"
    )
    diag.add_argument("--json", action="store_true", help="print the diagnosis as a JSON record")
    _engine_options(diag)

    bench = sub.add_parser("bench", help="cold and warm timings of the benchmark set (docker engine)")
    bench.add_argument("--full", action="store_true", help="also the warm full matrix of the whole catalogue")
    bench.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    bench.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)

    replay = sub.add_parser("replay", help="run a finished run's cells again and list verdicts that differ")
    replay.add_argument("run_dir", type=Path)
    _engine_options(replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _resolve_sources(args)
        handler = {
            "list": _list,
            "images": _images,
            "table": _table,
            "report": _report,
            "compare": _compare,
            "repro": _repro,
            "run": _run,
            "replay": _replay,
            "bisect": _bisect,
            "shards": _shards,
            "merge": _merge,
            "diagnose": _diagnose,
            "bench": _bench,
            "validate": _validate,
        }[args.command]
        return handler(args)
    except HarnessError as exc:
        eprint(f"isolation-harness: error: {exc.message}")
        return exc.code
    except KeyboardInterrupt:
        eprint("isolation-harness: interrupted; finished records are kept")
        return 130


def _resolve_sources(args: argparse.Namespace) -> None:
    """--scenarios-dir and --matrix default to ./scenarios and ./matrix.yaml, else the bundled ones."""
    if hasattr(args, "scenarios_dir"):
        args.sources = [resources.scenarios_dir(args.scenarios_dir)]
        args.scenarios_dir = args.sources[0].path
    if hasattr(args, "matrix"):
        source = resources.matrix_file(args.matrix)
        args.sources = [*getattr(args, "sources", []), source]
        args.matrix = source.path


def _sources_line(args: argparse.Namespace) -> str:
    if getattr(args, "resume", None) is not None:
        return f"resuming {args.resume}: scenarios and plan from the run folder"
    if args.command == "replay":
        return f"replaying {args.run_dir}: scenarios from the run folder"
    return "; ".join(source.describe() for source in getattr(args, "sources", []))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _list(args: argparse.Namespace) -> int:
    print(f"{args.sources[0].describe()}:")
    for scenario in load_scenarios(args.scenarios_dir).values():
        print(f"  {scenario.name}: {scenario.summary}")
    return 0


def _records(run_dir: Path) -> list[dict[str, Any]]:
    if not (run_dir / "results.jsonl").is_file():
        raise InputError(f"{run_dir}: no results.jsonl; pass the folder of a run (results/<run-id>)")
    damaged: list[str] = []
    records = read_records(run_dir, damaged=damaged)
    for line in damaged:
        eprint(f"isolation-harness: warning: {line}")
    return records


def _table(args: argparse.Namespace) -> int:
    records = _records(args.run_dir)
    print(verdict_table(records))
    return 0 if all(r["match"] for r in records) else 1


def _report(args: argparse.Namespace) -> int:
    records = _records(args.run_dir)
    written = write_reports(records, args.run_dir.resolve(), args.out or args.run_dir)
    for path in written.values():
        print(path)
    if append_step_summary(markdown(records)):
        print("appended to $GITHUB_STEP_SUMMARY")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from isolation_harness.compare import compare, render

    changes, unmatched = compare(_records(args.base), _records(args.candidate))
    print(render(changes, unmatched))
    return 1 if any(c.kind == "regression" for c in changes) else 0


def _repro(args: argparse.Namespace) -> int:
    from isolation_harness.repro import script

    house = Wheelhouse(args.wheelhouse) if args.wheelhouse else None
    sys.stdout.write(script(args.run_dir, args.cell, wheelhouse=house))
    return 0


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


def _engine(args: argparse.Namespace) -> Engine:
    if args.jobs < 0:
        raise InputError("--jobs must be 0 (one per core) or more")
    engine = select_engine(args.engine, keep=args.keep, log=lambda m: eprint(f"isolation-harness: {m}"))
    if hasattr(args, "sources"):
        # The first line of a run, once its inputs are good, says which catalogue and matrix it uses
        # (also in plan.json): ./scenarios, a given folder, or the catalogue bundled in the package.
        eprint(f"isolation-harness: {_sources_line(args)}")
    info = engine.info()
    if info.isolation != "container":
        eprint(
            f"isolation-harness: warning: engine '{info.name}' gives weaker isolation than a container: "
            + "; ".join(info.notes)
        )
    return engine


def _execute(
    args: argparse.Namespace, engine: Engine, cells: list[tuple[Cell, Scenario]], run_id: str, wheelhouse: Wheelhouse
) -> RunResult:
    options = RunOptions(
        jobs=args.jobs,
        out=args.out,
        repeat=getattr(args, "repeat", 1),
        timeout=getattr(args, "timeout", None),
        sources=_sources_line(args),
    )
    eprint(f"isolation-harness: run {run_id}: {len(cells)} cells on engine '{engine.info().name}'")
    progress = Progress(len(cells))
    # SIGTERM (a cancelled CI job) cleans up like Ctrl-C: running cells are killed and removed,
    # finished records stay.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return execute(
            cells, engine=engine, wheelhouse=wheelhouse, options=options, run_id=run_id, on_record=progress.cell_done
        )
    finally:
        progress.close()


def _run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise InputError("--repeat must be 1 or more")
    if args.timeout is not None and not 5 <= args.timeout <= 3600:
        raise InputError("--timeout must be between 5 and 3600 seconds")
    if args.resume is not None:
        plan = load_plan(args.resume)
        folder = args.resume / "scenarios"
        scenarios = [find_scenario(folder, name) for name in plan["scenarios"]]
        args.out, run_id = args.resume.resolve().parent, args.resume.resolve().name
        args.repeat, args.timeout = plan.get("repeat", 1), plan.get("timeout")
        pythons, pips, wanted = plan["pythons"], plan["pips"], set(plan["cells"])
        frontends = plan.get("frontends", [])
    elif not args.scenario:
        raise InputError("run needs --scenario NAME (or --resume RUN_DIR)")
    else:
        scenarios = [find_scenario(args.scenarios_dir, name) for name in dict.fromkeys(args.scenario)]
        run_id, pythons, pips, wanted = new_run_id(scenarios), args.python, args.pip, None
        frontends = args.frontend
    matrix = load_matrix(args.matrix)
    engine = _engine(args)
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    if args.resume is None:
        pips = _candidates(args, wheelhouse)
    options = RunOptions(pythons=pythons, pips=pips, frontends=frontends, jobs=args.jobs, out=args.out)
    cells = prepare(scenarios, matrix, engine, wheelhouse, options)
    if wanted is not None:
        cells = [(c, s) for c, s in cells if c.id in wanted]
    result = _execute(args, engine, cells, run_id, wheelhouse)
    print(verdict_table(result.records))
    print(f"\n{summary_counts(result.records)}; records in {result.run_dir / 'results.jsonl'}")
    return 0 if result.all_matched else 1


def _candidates(args: argparse.Namespace, wheelhouse: Wheelhouse) -> list[str]:
    """Resolve --pip values (building non-releases once) and apply any pyproject-hooks overlay."""
    from isolation_harness.pipsource import is_release, resolve_pip

    if args.pyproject_hooks and not args.pip:
        raise InputError("--pyproject-hooks needs --pip: name the pip releases or candidates to overlay")
    labels = []
    for value in args.pip:
        if is_release(value) and not args.pyproject_hooks:
            labels.append(value)  # checked and downloaded when the cells are planned
        else:
            labels.append(resolve_pip(value, wheelhouse, hooks=args.pyproject_hooks).label)
    return labels


def _bisect(args: argparse.Namespace) -> int:
    from isolation_harness.bisect import bisect, pip_commits, pip_releases
    from isolation_harness.pipsource import resolve_pip

    scenario = find_scenario(args.scenarios_dir, args.scenario)
    matrix = load_matrix(args.matrix)
    if args.pip_repo:
        releases, what = pip_commits(args.pip_repo, args.good, args.bad), "commit"
    else:
        releases, what = pip_releases(args.good, args.bad), "release"
    engine = _engine(args)
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    run_id = f"bisect-{new_run_id([scenario])}"
    eprint(f"isolation-harness: bisecting {len(releases)} {what}s {args.good}..{args.bad} on Python {args.python}")

    def verdict_of(candidate: str) -> str:
        # A commit is built into a wheel once (pypa/build) and runs under its PEP 440 label.
        pip = resolve_pip(f"git+file://{args.pip_repo}@{candidate}", wheelhouse).label if args.pip_repo else candidate
        # Bisecting pip releases: pip's own frontend.
        options = RunOptions(pythons=[args.python], pips=[pip], frontends=["pip"], jobs=1, out=args.out)
        cells = prepare([scenario], matrix, engine, wheelhouse, options)
        record = execute(cells, engine=engine, wheelhouse=wheelhouse, options=options, run_id=run_id).records[-1]
        eprint(f"  pip {pip}: {record['verdict']}")
        return str(record["verdict"])

    result = bisect(releases, verdict_of)
    print(
        f"first pip {what} with a different verdict: {result.first_changed} "
        f"({result.last_same}: {result.good_verdict}, {result.first_changed}: {result.changed_verdict})"
    )
    print(f"{len(result.probes)} cells run for {len(releases)} {what}s; records in {args.out / run_id}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """The catalogue with the candidate and with the baseline release, then compare (exit 1 on regression)."""
    from isolation_harness.compare import compare, render

    folder = args.scenarios_dir
    scenarios = [find_scenario(folder, n) for n in args.scenario] or list(load_scenarios(folder).values())
    matrix = load_matrix(args.matrix)
    engine = _engine(args)
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    candidate = _candidates(argparse.Namespace(pip=[args.pip], pyproject_hooks=args.pyproject_hooks), wheelhouse)
    baseline = args.against or max(matrix.pips, key=Version)
    results = {}
    for name, pips in (("baseline", [baseline]), ("candidate", candidate)):
        # The frontends that run pip's code (uv does not), so a pip patch is judged where it acts.
        options = RunOptions(
            pythons=args.python, pips=pips, frontends=["pip", "pip-venv", "build"], jobs=args.jobs, out=args.out
        )
        cells = prepare(scenarios, matrix, engine, wheelhouse, options)
        run_id = f"validate-{name}-{new_run_id(scenarios)}"
        results[name] = _execute(args, engine, cells, run_id, wheelhouse)
        print(f"{name} (pip {pips[0]}): {summary_counts(results[name].records)}; {results[name].run_dir}")
    changes, unmatched = compare(results["baseline"].records, results["candidate"].records)
    print(verdict_table(results["candidate"].records))
    print()
    print(f"candidate pip {candidate[0]} against pip {baseline}:")
    print(render(changes, unmatched))
    return 1 if any(c.kind == "regression" for c in changes) else 0


def _shards(args: argparse.Namespace) -> int:
    import json

    from isolation_harness.shards import shard_matrix

    folder = args.scenarios_dir
    scenarios = [find_scenario(folder, n) for n in args.scenario] or list(load_scenarios(folder).values())
    print(json.dumps(shard_matrix(scenarios, load_matrix(args.matrix), pythons=args.python)))
    return 0


def _merge(args: argparse.Namespace) -> int:
    from isolation_harness.shards import merge

    records = merge(args.run_dirs, args.out)
    print(verdict_table(records))
    print(f"\nmerged {len(records)} cells from {len(args.run_dirs)} runs into {args.out}")
    return 0 if all(r["match"] for r in records) else 1


def _diagnose(args: argparse.Namespace) -> int:
    import json
    import shutil

    from isolation_harness.diagnose import account, run_diagnosis

    env_python = args.env_python or shutil.which("python3") or shutil.which("python")
    if env_python is None:
        raise InputError("--env-python: no python3 on PATH; name the environment's interpreter")
    engine = _engine(args)
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    diagnosis = run_diagnosis(
        args.project,
        env_python=env_python,
        python=args.python,
        pip=args.pip,
        engine=engine,
        wheelhouse=wheelhouse,
        frontend=args.frontend,
    )
    print(json.dumps(diagnosis.record(), indent=1, default=str) if args.json else account(diagnosis))
    return 0 if diagnosis.verdict.value == "held" else 1


def _bench(args: argparse.Namespace) -> int:
    import tempfile

    from isolation_harness.bench import run

    with tempfile.TemporaryDirectory(prefix="ih-bench-") as out:
        for line in run(load_scenarios(args.scenarios_dir), load_matrix(args.matrix), full=args.full, out=Path(out)):
            print(line, flush=True)
    return 0


def _replay(args: argparse.Namespace) -> int:
    cells, before = replay_cells(args.run_dir)
    engine = _engine(args)
    wheelhouse = Wheelhouse(args.wheelhouse or default_location())
    for py in sorted({c.python for c, _ in cells if c.not_applicable is None}):
        engine.check_python(py)
    run_id = "replay-" + args.run_dir.resolve().name
    result = _execute(args, engine, cells, f"{run_id}-{new_run_id([])[:16]}", wheelhouse)
    differ = [r for r in result.records if before.get(r["cell"]) != r["verdict"]]
    print(f"replayed {len(result.records)} cells of {args.run_dir}; {len(differ)} with a different verdict")
    for record in sorted(differ, key=lambda r: r["cell"]):
        print(f"  {record['cell']}: {before.get(record['cell'])} -> {record['verdict']}")
    print(f"records in {result.run_dir / 'results.jsonl'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
