"""A run: plan the cells, fill the wheel directory, run the cells on an engine, record each one."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from isolation_harness import frontends
from isolation_harness.cell import build_requirements, not_applicable_record, run_cell
from isolation_harness.engines import Engine
from isolation_harness.errors import InputError
from isolation_harness.matrix import Cell, Matrix, plan
from isolation_harness.records import RecordWriter, read_records
from isolation_harness.scenario import FIXTURES, Scenario
from isolation_harness.verdict import Verdict
from isolation_harness.wheelhouse import Wheelhouse


@dataclass(frozen=True)
class RunOptions:
    pythons: Sequence[str] = ()
    pips: Sequence[str] = ()
    frontends: Sequence[str] = ()
    jobs: int = 0
    out: Path = Path("results")
    repeat: int = 1  # runs of each cell; verdicts that differ make the cell `flaky`
    timeout: int | None = None  # overrides each scenario's per-run time limit
    sources: str = ""  # where the scenarios and the matrix came from (./, bundled or given)


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    records: list[dict[str, Any]]

    @property
    def all_matched(self) -> bool:
        return all(r["match"] for r in self.records)


PLAN = "plan.json"


def new_run_id(scenarios: Sequence[Scenario]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{'+'.join(s.name for s in scenarios)}-{secrets.token_hex(3)}"


def prepare(
    scenarios: Sequence[Scenario], matrix: Matrix, engine: Engine, wheelhouse: Wheelhouse, options: RunOptions
) -> list[tuple[Cell, Scenario]]:
    """Plan every cell and check all inputs before anything runs, so bad input fails fast (exit 2)."""
    cells: list[tuple[Cell, Scenario]] = []
    disposable = engine.info().isolation == "container"
    for scenario in scenarios:
        for planned in plan(
            scenario,
            matrix,
            requires_python=wheelhouse.requires_python,
            pythons=options.pythons,
            pips=options.pips,
            frontends=options.frontends,
        ):
            cell = planned
            if cell.not_applicable is None and scenario.needs_disposable_base and not disposable:
                # On the local engine the base is this machine's interpreter: changing it would last, and
                # its site-packages are not clean.
                reason = (
                    "the scenario uses the base interpreter's site-packages: only a container's is clean and disposable"
                )
                cell = dataclasses.replace(planned, expected=Verdict.NOT_APPLICABLE, not_applicable=reason)
            cells.append((cell, scenario))
    for py in sorted({c.python for c, _ in cells if c.not_applicable is None}):
        engine.check_python(py)
    return cells


def execute(
    cells: list[tuple[Cell, Scenario]],
    *,
    engine: Engine,
    wheelhouse: Wheelhouse,
    options: RunOptions,
    run_id: str,
    on_record: Callable[[dict[str, Any], int, int], None] = lambda r, d, t: None,
) -> RunResult:
    """Run the cells and append one record per cell as it finishes.

    A run folder that already holds records (``--resume``) keeps them, and only the cells without a
    record run. On Ctrl-C or SIGTERM nothing new starts, running cells are killed and their partial
    output removed, cells that finished meanwhile are still recorded, and the interrupt propagates.
    """
    run_dir = (options.out / run_id).resolve()
    writer = RecordWriter(run_dir)
    done_before = {r["cell"]: r for r in read_records(run_dir)}
    # The run keeps the scenario files it used, so repro, replay and resume work after they change.
    (run_dir / "scenarios").mkdir(exist_ok=True)
    for scenario in {s.source: s for _, s in cells}.values():
        copy = run_dir / "scenarios" / f"{scenario.name}.yaml"
        if copy.resolve() != scenario.source.resolve():
            shutil.copyfile(scenario.source, copy)
            if scenario.project.fixture:
                fixture = Path(FIXTURES) / scenario.project.fixture
                shutil.copytree(scenario.source.parent / fixture, run_dir / "scenarios" / fixture, dirs_exist_ok=True)
    _write_plan(run_dir, cells, options)
    records: list[dict[str, Any]] = [done_before[c.id] for c, _ in cells if c.id in done_before]
    todo = [(c, s) for c, s in cells if c.id not in done_before]
    total = len(cells)
    probe = wheelhouse.probe_wheel()
    artifacts: dict[tuple[str, str, str], list[Path]] = {}
    for cell, scenario in todo:
        key = (scenario.name, cell.python, cell.frontend)
        if cell.not_applicable is None and key not in artifacts:
            # Each group is resolved on its own: the host may hold an older release of a build
            # requirement (pip #7778, #6264), which one resolution could not satisfy together.
            groups = [build_requirements(scenario), list(scenario.project.index), *scenario.host_requirement_groups]
            groups.append(list(frontends.get(cell.frontend).requirements))
            found = [probe, *wheelhouse.sdists(scenario.project.sdists)]
            for group in groups:
                found += [p for p in wheelhouse.requirements(group, cell.python) if p not in found]
            artifacts[key] = found

    def finish(record: dict[str, Any]) -> None:
        writer.append(record)
        records.append(record)
        on_record(record, len(records), total)

    runnable = []
    for cell, scenario in todo:
        if cell.not_applicable is not None:
            pip = wheelhouse.artifact(wheelhouse.pip_wheel(cell.pip))
            finish(
                not_applicable_record(
                    cell,
                    scenario,
                    run_id=run_id,
                    info=engine.info(),
                    python_exact=None,
                    pip=pip,
                    pip_source=wheelhouse.provenance(cell.pip),
                )
            )
        else:
            runnable.append((cell, scenario))

    def work(cell: Cell, scenario: Scenario) -> dict[str, Any]:
        runs = [
            run_cell(
                cell,
                scenario,
                engine=engine,
                wheelhouse=wheelhouse,
                artifacts=artifacts[(scenario.name, cell.python, cell.frontend)],
                run_dir=run_dir,
                run_id=run_id,
                python_exact=engine.check_python(cell.python),
                timeout=options.timeout,
                attempt=attempt,
            )
            for attempt in range(max(1, options.repeat))
        ]
        return combine_repeats(runs)

    jobs = options.jobs or max(1, os.cpu_count() or 1)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(work, cell, scenario) for cell, scenario in runnable]
    recorded: set[concurrent.futures.Future[dict[str, Any]]] = set()
    try:
        for future in concurrent.futures.as_completed(futures):
            finish(future.result())
            recorded.add(future)
    except BaseException:
        for future in futures:
            future.cancel()
        engine.abort()
        pool.shutdown(wait=True)
        for future in futures:
            if future not in recorded and future.done() and not future.cancelled() and future.exception() is None:
                finish(future.result())
        raise
    pool.shutdown(wait=True)
    return RunResult(run_dir, records)


def combine_repeats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One record from the repeats of a cell: `flaky` when their verdicts differ."""
    record = dict(runs[0])
    verdicts = [r["verdict"] for r in runs]
    if len(runs) > 1:
        record["repeats"] = verdicts
        if len(set(verdicts)) > 1:
            record.update(
                verdict=Verdict.FLAKY.value,
                match=False,
                reasons=[f"verdicts differ between {len(runs)} repeats: {', '.join(verdicts)}"],
            )
    return record


def _write_plan(run_dir: Path, cells: list[tuple[Cell, Scenario]], options: RunOptions) -> None:
    plan_file = run_dir / PLAN
    if plan_file.exists():
        return
    data = {
        "cells": [c.id for c, _ in cells],
        "scenarios": sorted({s.name for _, s in cells}),
        "pythons": sorted({c.python for c, _ in cells}),
        "pips": sorted({c.pip for c, _ in cells}),
        "frontends": sorted({c.frontend for c, _ in cells}),
        "repeat": options.repeat,
        "timeout": options.timeout,
        "sources": options.sources,
    }
    tmp = plan_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(plan_file)


def load_plan(run_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((run_dir / PLAN).read_text())
    except (OSError, ValueError):
        raise InputError(f"--resume {run_dir}: no readable {PLAN}; pass the folder of a run to resume") from None
    return data


def summary_counts(records: Sequence[dict[str, Any]]) -> str:
    counts = {v.value: 0 for v in Verdict}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def replay_cells(run_dir: Path) -> tuple[list[tuple[Cell, Scenario]], dict[str, str]]:
    """The cells of a finished run, rebuilt from its records and scenario copies, with their verdicts."""
    from isolation_harness.repro import run_scenario

    records = read_records(run_dir)
    if not records:
        raise InputError(f"{run_dir}: no records in results.jsonl; pass the folder of a finished run")
    scenarios: dict[str, Scenario] = {}
    cells: list[tuple[Cell, Scenario]] = []
    for record in records:
        name = record["scenario"]
        if name not in scenarios:
            scenarios[name] = run_scenario(run_dir, record)
        scenario = scenarios[name]
        expected = Verdict(record["expected"]) if record.get("expected") else None
        cell = Cell(
            name,
            record["python"]["axis"],
            record["pip"]["version"],
            record["frontend"],
            expected,
            record.get("not_applicable"),
        )
        cells.append((cell, scenario))
    return cells, {r["cell"]: r["verdict"] for r in records}
