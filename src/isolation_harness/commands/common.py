"""What the subcommands share: where the scenarios and the matrix come from, the engine, the wheel
directory, reading a run folder, and running cells with progress."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from isolation_harness import cellcache, resources, runner
from isolation_harness.engines import Engine, select_engine
from isolation_harness.errors import InputError
from isolation_harness.matrix import Matrix, load_matrix
from isolation_harness.progress import Progress
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import Scenario, find_scenario, load_scenarios
from isolation_harness.wheelhouse import Wheelhouse, default_location

SCENARIOS_HELP = "scenario folder (default: ./scenarios when present, else the bundled catalogue)"
MATRIX_HELP = "matrix file (default: ./matrix.yaml when present, else the bundled one)"


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def log(message: str) -> None:
    eprint(f"isolation-harness: {message}")


def input_options(parser: argparse.ArgumentParser, *, matrix: bool = True) -> None:
    parser.add_argument("--scenarios-dir", type=Path, default=None, help=SCENARIOS_HELP)
    if matrix:
        parser.add_argument("--matrix", type=Path, default=None, help=MATRIX_HELP)


def engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="auto", choices=("auto", "docker", "local"))
    parser.add_argument("--jobs", type=int, default=0, help="cells in parallel (default: the number of cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for run folders (default: results)")
    parser.add_argument("--wheelhouse", type=Path, default=None, help="wheel directory (default: user cache)")
    parser.add_argument("--keep", action="store_true", help="keep each cell's container or folder for debugging")


def cache_options(parser: argparse.ArgumentParser) -> None:
    """The result cache (cellcache): a cell whose every input is unchanged is not run again."""
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"result cache (default: ${cellcache.ENV}, else {cellcache.default_location()})",
    )
    parser.add_argument("--fresh", action="store_true", help="run every cell even when cached (and cache the new run)")
    parser.add_argument("--no-cache", action="store_true", help="neither reuse nor keep results")


def cache(args: argparse.Namespace) -> cellcache.CellCache | None:
    if args.no_cache:
        if args.fresh or args.cache_dir is not None:
            raise InputError("--no-cache: leave out --fresh and --cache-dir (or drop --no-cache)")
        return None
    return cellcache.open_cache(args.cache_dir)


def cache_line(records: list[CellRecord]) -> str | None:
    """What the cache did in a run: cells reused, and the rechecked ones that disagreed."""
    reused = [r for r in records if r.cached_from]
    checked = [r for r in records if r.rechecked]
    if not reused and not checked:
        return None
    differ = [r.cell for r in checked if r.rechecked and r.verdict != r.rechecked.get("verdict")]
    line = f"cache: {len(reused)} cells reused from earlier runs"
    if checked:
        line += f", {len(checked)} cached cells rechecked for real: {len(differ)} disagree"
        line += f" ({', '.join(differ)})" if differ else ""
    return line


@dataclass(frozen=True)
class Inputs:
    """The catalogue and the matrix a command uses: ./scenarios and ./matrix.yaml when present, else
    the ones bundled in the package, or the given ones."""

    scenarios_dir: Path
    matrix_file: Path
    line: str  # said first, once the inputs are good, and kept in plan.json

    @classmethod
    def of(cls, args: argparse.Namespace) -> Inputs:
        scenarios = resources.scenarios_dir(getattr(args, "scenarios_dir", None))
        matrix = resources.matrix_file(getattr(args, "matrix", None))
        return cls(scenarios.path, matrix.path, f"{scenarios.describe()}; {matrix.describe()}")

    def matrix(self) -> Matrix:
        return load_matrix(self.matrix_file)

    def scenarios(self, names: list[str]) -> list[Scenario]:
        """The named scenarios (each once), or every scenario of the catalogue when none is named."""
        if names:
            return [find_scenario(self.scenarios_dir, name) for name in dict.fromkeys(names)]
        return list(load_scenarios(self.scenarios_dir).values())


def engine(args: argparse.Namespace, sources: str | None) -> Engine:
    if args.jobs < 0:
        raise InputError("--jobs must be 0 (one per core) or more")
    chosen = select_engine(args.engine, keep=args.keep, log=log)
    if sources:
        # The first line of a run, once its inputs are good, says which catalogue and matrix it uses
        # (also in plan.json): ./scenarios, a given folder, or the catalogue bundled in the package.
        log(sources)
    info = chosen.info()
    if info.isolation != "container":
        log(f"warning: engine '{info.name}' gives weaker isolation than a container: " + "; ".join(info.notes))
    return chosen


def wheelhouse(args: argparse.Namespace) -> Wheelhouse:
    return Wheelhouse(args.wheelhouse or default_location())


def records(run_dir: Path) -> list[CellRecord]:
    damaged: list[str] = []
    found = RunFolder.existing(run_dir).records(damaged=damaged)
    for line in damaged:
        log(f"warning: {line}")
    return found


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_with_progress(request: runner.RunRequest) -> runner.RunResult:
    """``runner.run`` with a progress line per cell; SIGTERM (a cancelled CI job) cleans up like
    Ctrl-C: running cells are killed and removed, finished records stay."""
    shown = _Shown(request.engine.info().name)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return runner.run(dataclasses.replace(request, on_start=shown.start, on_record=shown.cell))
    finally:
        shown.close()


class _Shown:
    """The run's first line once its cells are planned and checked, then a line (or a bar) per cell."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.progress: Progress | None = None

    def start(self, run_id: str, total: int) -> None:
        log(f"run {run_id}: {total} cells on engine '{self.engine}'")
        self.progress = Progress(total)

    def cell(self, record: CellRecord, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.cell_done(record, done, total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
