"""One cell: its spec on the engine, the driver's output read back, and the record of its verdict."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from isolation_harness import __version__, cellcache, frontends, spec
from isolation_harness.engines import CellJob, Engine, EngineInfo, JobOutcome
from isolation_harness.evidence import RunFacts, analyze_run
from isolation_harness.inputs import CellInputs
from isolation_harness.matrix import Cell
from isolation_harness.record import CellRecord, PipUsed, Ran, RunRecord, artifact_version
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import Scenario
from isolation_harness.verdict import Decision, Verdict, decide

# Time for making the venv, unpacking pip and the contamination, on top of the two runs' limits.
SETUP_ALLOWANCE = 180.0
RUNS = ("control", "experiment")


@dataclass(frozen=True)
class CellRun:
    """One applicable cell to run: what, with which inputs, where its output goes."""

    cell: Cell
    scenario: Scenario
    inputs: CellInputs
    folder: RunFolder
    python_exact: str
    timeout: int | None = None  # overrides the scenario's per-run limit
    attempt: int = 0  # the repeat (--repeat N)


def job_for(run: CellRun) -> CellJob:
    """The engine's job for a cell: its driver spec, and where its output goes."""
    limit = run.timeout or run.scenario.timeout
    return CellJob(
        spec=spec.for_scenario(
            run.scenario,
            run.inputs.pip_wheel,
            frontend=run.cell.frontend,
            release=run.cell.release,
            mode=run.cell.mode,
            timeout=limit,
            wheelhouse_hidden=run.inputs.hidden,
            editable_pip_wheel=run.inputs.editable_pip,
        ),
        python=run.cell.python,
        wheelhouse=run.inputs.wheelhouse,
        out_dir=run.folder.cell_dir(run.cell.slug, run.attempt),
        time_limit=2 * limit + SETUP_ALLOWANCE,
    )


def cache_key(run: CellRun, engine: Engine) -> str | None:
    """The cell's key in the result cache, or None when its engine offers nothing to key on."""
    identity = engine.cache_identity(run.cell.python)
    if identity is None:
        return None
    job = job_for(run)
    return cellcache.cell_key(job.spec, run.inputs.artifacts, identity, job.time_limit, cellcache.driver_digest())


def run_cell(
    run: CellRun,
    engine: Engine,
    *,
    cache: cellcache.CellCache | None = None,
    key: str | None = None,
    checked_against: cellcache.Entry | None = None,
) -> CellRecord:
    """Run one applicable cell on the engine and return its record; a decided cell goes into the
    cache under ``key``. ``checked_against``: the cached measurement this run checks (--recheck)."""
    started = _now()
    job = job_for(run)
    if job.out_dir.exists():  # left by an interrupted run that is being resumed
        shutil.rmtree(job.out_dir)
    clock = time.monotonic()
    try:
        outcome = engine.run_cell(job)
    except BaseException:
        # Interrupted: no half-written output stays behind; a resumed run does the cell again.
        shutil.rmtree(job.out_dir, ignore_errors=True)
        raise
    # Waiting for its turn (the engine's pipeline) is not the cell's time.
    times = (started, _now(), round(time.monotonic() - clock - outcome.queued, 3))
    record = _judged(run, job, outcome, run.python_exact, times)
    record = dataclasses.replace(record, cache_key=key)
    if checked_against is not None:
        record = _rechecked(record, checked_against)
    if cache is not None and key is not None and record.rechecked and record.verdict == Verdict.FLAKY.value:
        cache.drop(key)
    elif cache is not None and key is not None and record.verdict in cellcache.DECIDED:
        entry = cellcache.Entry(
            key, run.folder.run_id, run.cell.id, outcome.timed_out, outcome.fault, outcome.info,
            run.python_exact, *times, record.verdict,
        )  # fmt: skip
        cache.put(entry, job.out_dir)
    return record


def reuse_cell(run: CellRun, entry: cellcache.Entry) -> CellRecord:
    """A cell from the cache: its measured output copied into this run, judged again by today's rules."""
    job = job_for(run)
    cellcache.copy_out(entry, job.out_dir)
    outcome = JobOutcome(entry.timed_out, entry.fault, entry.info)
    record = _judged(run, job, outcome, entry.python_exact, (entry.started, entry.finished, entry.duration))
    return dataclasses.replace(record, cache_key=entry.key, cached_from=entry.run_id)


def _rechecked(record: CellRecord, entry: cellcache.Entry) -> CellRecord:
    """A cached cell run again for real: the same inputs must give the same verdict, else it is flaky."""
    checked = {"run_id": entry.run_id, "verdict": entry.verdict}
    if record.verdict == entry.verdict:
        return dataclasses.replace(record, rechecked=checked)
    reason = (
        f"rechecked: run {entry.run_id} measured {entry.verdict} with the same inputs (cache key "
        f"{entry.key[:12]}), this run {record.verdict}"
    )
    return dataclasses.replace(
        record, rechecked=checked, verdict=Verdict.FLAKY.value, match=False, reasons=(reason, *record.reasons)
    )


def _judged(
    run: CellRun, job: CellJob, outcome: JobOutcome, python_exact: str, times: tuple[str, str, float]
) -> CellRecord:
    out_dir = job.out_dir
    result = None if outcome.timed_out else _read_result(out_dir)
    facts = _facts(result, out_dir)
    decision = _decide(outcome, result, facts, job.time_limit)
    ran = Ran(
        pip_version_output=(result or {}).get("pip_version_output"),
        git_version=(result or {}).get("git_version"),
        driver_log=run.folder.relative(out_dir / "driver.log"),
    )
    runs = {name: _run_record(facts.get(name), out_dir, run.folder, name) for name in RUNS}
    return _record(
        run.cell,
        run.scenario,
        run.inputs,
        folder=run.folder,
        info=outcome.info,
        python_exact=python_exact,
        decision=decision,
        runs=runs,
        ran=ran,
        times=times,
    )


def not_applicable_record(
    cell: Cell, scenario: Scenario, inputs: CellInputs, *, folder: RunFolder, info: EngineInfo
) -> CellRecord:
    now = _now()
    reason = cell.not_applicable or ""
    return _record(
        cell,
        scenario,
        inputs,
        folder=folder,
        info=info,
        python_exact=None,
        decision=Decision(Verdict.NOT_APPLICABLE, (reason,)),
        runs={"control": None, "experiment": None},
        ran=None,
        times=(now, now, 0.0),
    )


def _facts(result: dict[str, Any] | None, out_dir: Path) -> dict[str, RunFacts]:
    if result is None:
        return {}
    roots, runs = result.get("roots", {}), result.get("runs", {})
    return {name: analyze_run(runs[name], roots, out_dir) for name in RUNS if name in runs}


def _decide(outcome: JobOutcome, result: dict[str, Any] | None, facts: dict[str, RunFacts], limit: float) -> Decision:
    if outcome.timed_out:
        return Decision(Verdict.TIMEOUT, (f"the cell exceeded its overall limit of {limit:.0f} s and was killed",))
    fault = outcome.fault or (result or {}).get("fault")
    if result is None:
        return decide(None, None, harness_fault=fault or "the cell driver wrote no result.json")
    control, experiment = facts.get("control"), facts.get("experiment")
    return decide(
        control.summary() if control else None, experiment.summary() if experiment else None, harness_fault=fault
    )


def _record(
    cell: Cell,
    scenario: Scenario,
    inputs: CellInputs,
    *,
    folder: RunFolder,
    info: EngineInfo,
    python_exact: str | None,
    decision: Decision,
    runs: dict[str, RunRecord | None],
    ran: Ran | None,
    times: tuple[str, str, float],
) -> CellRecord:
    return CellRecord(
        run_id=folder.run_id,
        cell=cell.id,
        scenario=scenario.name,
        scenario_sha256=hashlib.sha256(scenario.source.read_bytes()).hexdigest(),
        project_sha256=scenario.project.digest,
        python=cell.python,
        python_exact=python_exact,
        pip=PipUsed(cell.pip, inputs.pip_source, inputs.pip.file, inputs.pip.sha256),
        frontend=cell.frontend,
        engine=info,
        expected=cell.expected.value if cell.expected else None,
        artifacts=inputs.artifacts,
        not_applicable=cell.not_applicable,
        verdict=decision.verdict.value,
        match=decision.verdict is cell.expected,
        reasons=tuple(decision.reasons),
        control=runs["control"],
        experiment=runs["experiment"],
        started=times[0],
        finished=times[1],
        duration=times[2],
        ran=ran,
        harness_version=__version__,
        mode=cell.mode,
        frontend_release=cell.release,
        frontend_version=_frontend_version(cell, inputs),
    )


def _frontend_version(cell: Cell, inputs: CellInputs) -> str | None:
    """The exact frontend the cell installed: pip's own version for pip, else its wheel's."""
    dist = frontends.distribution(cell.frontend)
    if dist is None:
        return cell.pip
    return artifact_version([a.file for a in inputs.artifacts], dist) or cell.release


def _run_record(facts: RunFacts | None, out_dir: Path, folder: RunFolder, name: str) -> RunRecord | None:
    if facts is None:
        return None
    return RunRecord(facts, folder.relative(out_dir / name / "output.log"), folder.relative(out_dir / name / "probe"))


def _read_result(out_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out_dir / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
