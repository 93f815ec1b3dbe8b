"""A run, the one entry point behind run, resume, validate, bisect, bench and replay: plan the cells,
check every input, resolve what they install, run them on an engine, record each one."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from isolation_harness.cell import CellRun, cache_key, not_applicable_record, reuse_cell, run_cell
from isolation_harness.cellcache import CellCache, Entry
from isolation_harness.engines import Engine
from isolation_harness.frontends import Pinned
from isolation_harness.inputs import CellInputs, InputResolver
from isolation_harness.matrix import Cell, Matrix, plan
from isolation_harness.record import CellRecord, combine_repeats
from isolation_harness.runfolder import Plan, RunFolder, new_run_id
from isolation_harness.scenario import Scenario
from isolation_harness.sdistproject import materialize
from isolation_harness.verdict import Verdict
from isolation_harness.wheelhouse import Wheelhouse

Planned = tuple[Cell, Scenario]
OnRecord = Callable[[CellRecord, int, int], None]
OnStart = Callable[[str, int], None]  # the run's id and its number of cells, once its inputs are good


@dataclass(frozen=True)
class RunRequest:
    scenarios: Sequence[Scenario]
    matrix: Matrix | None  # None only with ``cells`` (replay), which are not planned
    engine: Engine
    wheelhouse: Wheelhouse
    out: Path = Path("results")
    pythons: Sequence[str] = ()
    pips: Sequence[str] = ()
    frontends: Sequence[str] = ()  # names or pinned releases: pip, build==1.4.2
    modes: Sequence[str] = ()  # pip's modes
    jobs: int = 0  # cells in parallel; 0: one per core
    repeat: int = 1  # runs of each cell; verdicts that differ make the cell `flaky`
    timeout: int | None = None  # overrides each scenario's per-run time limit
    sources: str = ""  # where the scenarios and the matrix came from (./, bundled or given)
    run_id: str | None = None  # default: a new id; an existing folder's id completes that run (resume)
    only: frozenset[str] | None = None  # just these cell ids (resume: the plan's)
    units: frozenset[tuple[str, str]] | None = None  # just these (scenario, Python) pairs (a balanced shard)
    applicable_only: bool = False  # leave the not-applicable cells out (no record for them)
    cells: tuple[Planned, ...] | None = None  # replay: these cells, not planned from the matrix
    on_record: OnRecord | None = None
    on_start: OnStart | None = None
    cache: CellCache | None = None  # the result cache (cellcache); None: every cell runs, none is kept
    fresh: bool = False  # run every cell even when the cache has it (and keep the new measurement)
    recheck: float = 0.0  # percent of the cells found in the cache to run again for real and compare


@dataclass(frozen=True)
class RunResult:
    folder: RunFolder
    records: list[CellRecord]

    @property
    def run_dir(self) -> Path:
        return self.folder.path

    @property
    def all_matched(self) -> bool:
        return all(r.match for r in self.records)


def run(request: RunRequest) -> RunResult:
    """Plan (or take the given cells), check the Pythons, then execute: bad input fails before
    anything runs (exit 2)."""
    cells = list(request.cells) if request.cells is not None else plan_cells(request)
    check_pythons(request.engine, cells)
    run_id = request.run_id or new_run_id(_names(request, cells))
    if request.on_start is not None:
        request.on_start(run_id, len(cells))
    return execute(cells, dataclasses.replace(request, run_id=run_id))


def _names(request: RunRequest, cells: Sequence[Planned]) -> list[str]:
    return list(dict.fromkeys(s.name for s in request.scenarios)) or list(dict.fromkeys(s.name for _, s in cells))


def plan_cells(request: RunRequest) -> list[Planned]:
    """Every cell of the scenarios over the matrix as narrowed, with the reasons for the holes."""
    if request.matrix is None:
        raise ValueError("a run without cells of its own needs a matrix to plan them")
    cells: list[Planned] = []
    disposable = request.engine.info().isolation == "container"
    for scenario in request.scenarios:
        planned = plan(
            scenario,
            request.matrix,
            facts=request.wheelhouse,
            pythons=request.pythons,
            pips=request.pips,
            frontends=request.frontends,
            modes=request.modes,
        )
        cells += [(_on_engine(cell, scenario, disposable), scenario) for cell in planned]
    if request.only is not None:
        cells = [(c, s) for c, s in cells if c.id in request.only]
    if request.units is not None:
        cells = [(c, s) for c, s in cells if (c.scenario, c.python) in request.units]
    if request.applicable_only:
        cells = [(c, s) for c, s in cells if c.not_applicable is None]
    return cells


def _on_engine(cell: Cell, scenario: Scenario, disposable: bool) -> Cell:
    if cell.not_applicable is None and scenario.needs_disposable_base and not disposable:
        # On the local engine the base is this machine's interpreter: changing it would last, and
        # its site-packages are not clean.
        reason = "the scenario uses the base interpreter's site-packages: only a container's is clean and disposable"
        return dataclasses.replace(cell, expected=Verdict.NOT_APPLICABLE, not_applicable=reason)
    return cell


def check_pythons(engine: Engine, cells: Sequence[Planned]) -> None:
    for python in sorted({c.python for c, _ in cells if c.not_applicable is None}):
        engine.check_python(python)


def execute(cells: Sequence[Planned], request: RunRequest) -> RunResult:
    """Run the cells and append one record per cell as it finishes.

    A run folder that already holds records (resume) keeps them, and only the cells without a record
    run. On Ctrl-C or SIGTERM nothing new starts, running cells are killed and their partial output
    removed, cells that finished meanwhile are still recorded, and the interrupt propagates.
    """
    folder = RunFolder.create(request.out, request.run_id or new_run_id(_names(request, cells)))
    done_before = folder.by_cell()
    folder.keep_scenarios(s for _, s in cells)
    folder.write_plan(_plan(cells, request))
    # A project from a released sdist gets its files here, on the host, once per scenario.
    filled = {s.name: materialize(s, request.wheelhouse) for c, s in cells if c.id not in done_before}
    todo = [(c, filled[s.name]) for c, s in cells if c.id not in done_before]
    # Resolved on the host, in order, before any cell runs: a missing wheel fails here, not midway.
    resolver = InputResolver(request.wheelhouse)
    inputs = {c.id: resolver.for_cell(c, s) for c, s in todo}
    recorder = _Recorder(folder, [done_before[c.id] for c, _ in cells if c.id in done_before], len(cells), request)
    for cell, scenario in todo:
        if cell.not_applicable is not None:
            info = request.engine.info()
            recorder.finish(
                not_applicable_record(cell, scenario, inputs[cell.id], folder=folder, info=info), sync=False
            )
    folder.sync()
    runnable = [(c, s) for c, s in todo if c.not_applicable is None]
    looked = _look_up(runnable, inputs, folder, request)
    reused = [(c, s) for c, s in runnable if c.id in looked.reuse]
    runnable = [(c, s) for c, s in runnable if c.id not in looked.reuse]

    def reuse() -> None:
        # Copying cached cells while the pool runs the others: a rerun's cost is its rechecks.
        for cell, scenario in reused:
            run = _cell_run(cell, scenario, inputs[cell.id], folder, request)
            recorder.finish(reuse_cell(run, looked.reuse[cell.id]), sync=False)
        folder.sync()

    def work(cell: Cell, scenario: Scenario) -> CellRecord:
        if cell.id in looked.keys:  # one run, keyed: kept in the cache (and checked against it)
            run = _cell_run(cell, scenario, inputs[cell.id], folder, request)
            return run_cell(
                run,
                request.engine,
                cache=request.cache,
                key=looked.keys[cell.id],
                checked_against=looked.recheck.get(cell.id),
            )
        return _repeats(cell, scenario, inputs[cell.id], folder, request)

    _in_pool(runnable, work, recorder, request, meanwhile=reuse)
    return RunResult(folder, recorder.records)


@dataclass(frozen=True)
class _Looked:
    keys: dict[str, str]  # cell id -> cache key, for the cells that can be cached
    reuse: dict[str, Entry]  # cells taken from the cache
    recheck: dict[str, Entry]  # cells found in the cache that run again for real (--recheck)


def _look_up(
    runnable: Sequence[Planned], inputs: dict[str, CellInputs], folder: RunFolder, request: RunRequest
) -> _Looked:
    """Each cell's key, and which cells the cache already has. Repeats (--repeat) always run: asking
    for them is asking for new measurements."""
    keys: dict[str, str] = {}
    hits: dict[str, Entry] = {}
    if request.cache is None or request.repeat > 1:
        return _Looked(keys, {}, {})
    for cell, scenario in runnable:
        key = cache_key(_cell_run(cell, scenario, inputs[cell.id], folder, request), request.engine)
        if key is None:
            continue
        keys[cell.id] = key
        entry = None if request.fresh else request.cache.get(key)
        if entry is not None:
            hits[cell.id] = entry
            request.cache.touch(key)
    chosen = recheck_sample(sorted(hits), request.recheck, folder.run_id)
    return _Looked(keys, {c: e for c, e in hits.items() if c not in chosen}, {c: hits[c] for c in chosen})


def cached(request: RunRequest, cells: Sequence[Planned]) -> set[str]:
    """The ids of the applicable cells the request's cache already has (nothing is run or written)."""
    if request.cache is None or request.fresh:
        return set()
    resolver = InputResolver(request.wheelhouse)
    folder = RunFolder(request.out / "_lookup")  # never created: only names cell folders for the key
    found = set()
    for cell, scenario in cells:
        if cell.not_applicable is None:
            key = cache_key(
                _cell_run(cell, scenario, resolver.for_cell(cell, scenario), folder, request), request.engine
            )
            if key is not None and request.cache.get(key) is not None:
                found.add(cell.id)  # marked used when it is measured (from the cache) as a seed
    return found


def recheck_sample(cells: Sequence[str], percent: float, seed: str) -> set[str]:
    """``percent`` of ``cells`` (at least one when any), spread by a hash of the run: each week's run
    rechecks other cells."""
    if percent <= 0 or not cells:
        return set()
    count = max(1, math.ceil(len(cells) * percent / 100))
    ranked = sorted(cells, key=lambda c: hashlib.sha256(f"{seed}/{c}".encode()).hexdigest())
    return set(ranked[:count])


def _cell_run(cell: Cell, scenario: Scenario, inputs: CellInputs, folder: RunFolder, request: RunRequest) -> CellRun:
    return CellRun(cell, scenario, inputs, folder, request.engine.check_python(cell.python), request.timeout)


class _Recorder:
    def __init__(self, folder: RunFolder, kept: list[CellRecord], total: int, request: RunRequest) -> None:
        self.folder, self.records, self.total, self.on_record = folder, kept, total, request.on_record

    def finish(self, record: CellRecord, *, sync: bool = True) -> None:
        self.folder.append(record, sync=sync)
        self.records.append(record)
        if self.on_record is not None:
            self.on_record(record, len(self.records), self.total)


def _repeats(cell: Cell, scenario: Scenario, inputs: CellInputs, folder: RunFolder, request: RunRequest) -> CellRecord:
    first = _cell_run(cell, scenario, inputs, folder, request)
    runs = [
        run_cell(dataclasses.replace(first, attempt=attempt), request.engine)
        for attempt in range(max(1, request.repeat))
    ]
    return combine_repeats(runs)


def _in_pool(
    runnable: Sequence[Planned],
    work: Callable[[Cell, Scenario], CellRecord],
    recorder: _Recorder,
    request: RunRequest,
    *,
    meanwhile: Callable[[], None] = lambda: None,
) -> None:
    """Run the cells in a pool, recording each as it finishes; ``meanwhile`` runs on this thread
    once they are submitted (what needs no engine)."""
    jobs = request.jobs or max(1, os.cpu_count() or 1)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=request.engine.pipeline(jobs))
    futures = [pool.submit(work, cell, scenario) for cell, scenario in runnable]
    recorded: set[concurrent.futures.Future[CellRecord]] = set()
    try:
        meanwhile()
        for future in concurrent.futures.as_completed(futures):
            recorder.finish(future.result())
            recorded.add(future)
    except BaseException:
        for future in futures:
            future.cancel()
        request.engine.abort()
        pool.shutdown(wait=True)
        for future in futures:
            if future not in recorded and future.done() and not future.cancelled() and future.exception() is None:
                recorder.finish(future.result())
        raise
    pool.shutdown(wait=True)


def _plan(cells: Sequence[Planned], request: RunRequest) -> Plan:
    return Plan(
        cells=tuple(c.id for c, _ in cells),
        scenarios=tuple(sorted({s.name for _, s in cells})),
        pythons=tuple(sorted({c.python for c, _ in cells})),
        pips=tuple(sorted({c.pip for c, _ in cells})),
        frontends=tuple(sorted({Pinned(c.frontend, c.release).label for c, _ in cells})),
        repeat=request.repeat,
        timeout=request.timeout,
        sources=request.sources,
        modes=tuple(sorted({c.mode for c, _ in cells})),
    )


def summary_counts(records: Sequence[CellRecord]) -> str:
    counts = {v.value: 0 for v in Verdict}
    for r in records:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n)


def replay_cells(folder: RunFolder) -> tuple[list[Planned], dict[str, str]]:
    """The cells of a finished run, rebuilt from its records and scenario copies, with their verdicts."""
    from isolation_harness.errors import InputError

    records = folder.records()
    if not records:
        raise InputError(f"{folder.path}: no records in results.jsonl; pass the folder of a finished run")
    scenarios: dict[str, Scenario] = {}
    cells: list[Planned] = []
    for record in records:
        if record.scenario not in scenarios:
            scenarios[record.scenario] = folder.scenario_of(record)
        expected = Verdict(record.expected) if record.expected else None
        cell = Cell(
            record.scenario,
            record.python,
            record.pip.version,
            record.frontend,
            expected,
            record.not_applicable,
            record.mode,
            record.frontend_release,
        )
        cells.append((cell, scenarios[record.scenario]))
    return cells, {r.cell: r.verdict for r in records}
