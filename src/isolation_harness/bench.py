"""The benchmark behind issue 9's and issue 19's targets, timed here, never in tests.

`overhead = warm wall / (sum of the bare action times / jobs)`: the floor of a run is the control and
experiment actions themselves, spread over the jobs. The default set is metapath x 6 Pythons x 4 pips,
cold and warm. ``--full`` measures the catalogue (or the scenarios named): cold (own image prefix, empty
wheel directory and cache), warm (every cell run again), the rerun with nothing new (every cell from the
result cache, a sample rechecked for real: its disagreements must be 0), and ``run --changes`` on
metapath, Python 3.11, against the whole pip axis.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from isolation_harness import runner
from isolation_harness.cellcache import WEEKLY_RECHECK, CellCache
from isolation_harness.engines.docker import DockerEngine
from isolation_harness.images import prefix
from isolation_harness.matrix import Matrix
from isolation_harness.record import CellRecord
from isolation_harness.runner import RunRequest
from isolation_harness.scenario import Scenario
from isolation_harness.wheelhouse import Wheelhouse

BENCH_PREFIX = "isolation-harness-bench"
BENCH_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
# Four pips that run on every Python of the set (23.1+ on 3.12, at most 25.0.x on 3.8).
BENCH_PIPS = ("24.0", "24.2", "24.3.1", "25.0")


@dataclass(frozen=True)
class Figures:
    label: str
    cells: int
    ran: int
    wall: float
    actions: float
    jobs: int

    @property
    def floor(self) -> float:
        return self.actions / self.jobs

    @property
    def overhead(self) -> float:
        return self.wall / self.floor if self.floor else float("inf")

    def line(self) -> str:
        return (
            f"{self.label}: {self.cells} cells ({self.ran} ran), wall {self.wall:.1f} s, actions {self.actions:.1f} s, "
            f"floor {self.floor:.1f} s (jobs {self.jobs}), overhead ratio {self.overhead:.2f}"
        )


@contextlib.contextmanager
def image_prefix(value: str) -> Iterator[None]:
    old = os.environ.get("ISOLATION_HARNESS_IMAGE_PREFIX")
    os.environ["ISOLATION_HARNESS_IMAGE_PREFIX"] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ["ISOLATION_HARNESS_IMAGE_PREFIX"]
        else:
            os.environ["ISOLATION_HARNESS_IMAGE_PREFIX"] = old


def remove_images(engine: DockerEngine) -> int:
    """Every image under the current prefix (cold start)."""
    removed = 0
    for image in engine.client.images.list():
        if any(tag.startswith(prefix() + "/") for tag in image.tags):
            engine.client.images.remove(image.id, force=True)
            removed += 1
    return removed


def measure(
    label: str,
    scenarios: Sequence[Scenario],
    matrix: Matrix,
    wheelhouse: Wheelhouse,
    out: Path,
    *,
    pythons: Sequence[str] = (),
    pips: Sequence[str] = (),
    jobs: int = 0,
    cache: CellCache | None = None,
    fresh: bool = False,
    recheck: float = 0.0,
    frontends: Sequence[str] = ("pip",),
    modes: Sequence[str] = ("default",),
) -> tuple[Figures, list[CellRecord]]:
    engine = DockerEngine()
    request = RunRequest(
        scenarios,
        matrix,
        engine,
        wheelhouse,
        out,
        pythons=pythons,
        pips=pips,
        frontends=frontends,
        modes=modes,
        jobs=jobs,
        cache=cache,
        fresh=fresh,
        recheck=recheck,
    )
    start = time.monotonic()
    result = runner.run(request)
    wall = time.monotonic() - start
    # Cells taken from the cache did not run here: their actions are not this run's floor.
    ran = [(r.control, r.experiment) for r in result.records if r.control is not None and not r.cached_from]
    actions = sum(c.facts.duration + (e.facts.duration if e else 0.0) for c, e in ran if c is not None)
    figures = Figures(label, len(result.records), len(ran), wall, actions, jobs or os.cpu_count() or 1)
    return figures, result.records


def run(
    scenarios: dict[str, Scenario], matrix: Matrix, *, full: bool, out: Path, only: Sequence[str] = ()
) -> list[str]:
    """Cold then warm on the bench set (own image prefix, empty wheel directory); with ``full``, the
    catalogue's figures (``full_catalogue``)."""
    lines = []
    metapath = [scenarios["metapath"]]
    with tempfile.TemporaryDirectory(prefix="ih-bench-wheels-") as tmp, image_prefix(BENCH_PREFIX):
        removed = remove_images(DockerEngine())
        lines.append(f"cold start: removed {removed} {BENCH_PREFIX} images, empty wheel directory {tmp}")
        house = Wheelhouse(Path(tmp))
        cold, _ = measure(
            "cold (images, wheels, prepared environments built)",
            metapath,
            matrix,
            house,
            out,
            pythons=BENCH_PYTHONS,
            pips=BENCH_PIPS,
        )
        warm, _ = measure("warm", metapath, matrix, house, out, pythons=BENCH_PYTHONS, pips=BENCH_PIPS)
        lines += [cold.line(), warm.line()]
        for line in lines:
            print(line, flush=True)
    if full:
        chosen = [scenarios[name] for name in only] if only else list(scenarios.values())
        with image_prefix(BENCH_PREFIX):
            lines += full_catalogue(chosen, scenarios["metapath"], matrix, out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"harness peak memory (max RSS of this process): {peak:.0f} MB")
    shutil.rmtree(out, ignore_errors=True)
    return lines


def full_catalogue(chosen: Sequence[Scenario], metapath: Scenario, matrix: Matrix, out: Path) -> list[str]:
    """Issue 19's figures: cold (the bench images removed, an empty wheel directory and cache), warm
    (every cell run again), the rerun with nothing new (every cell from the cache, the weekly workflow's
    share rechecked), and
    the change points of metapath on 3.11."""
    lines = []
    with (
        tempfile.TemporaryDirectory(prefix="ih-bench-cells-") as cells,
        tempfile.TemporaryDirectory(prefix="ih-bench-wheels-") as wheels,
    ):
        removed = remove_images(DockerEngine())
        lines.append(f"full catalogue cold start: removed {removed} {BENCH_PREFIX} images, empty wheel directory")
        house = Wheelhouse(Path(wheels))
        cache = CellCache(Path(cells))
        name = f"full catalogue ({len(chosen)} scenarios)"
        # Every frontend and mode of the matrix (frontends=(), modes=()), not only pip's default.
        cold, _ = measure(f"{name}, cold", chosen, matrix, house, out, cache=cache, frontends=(), modes=())
        lines.append(cold.line())
        print(lines[-1], flush=True)
        warm, _ = measure(f"{name}, warm", chosen, matrix, house, out, cache=cache, fresh=True, frontends=(), modes=())
        lines.append(warm.line())
        print(lines[-1], flush=True)
        again, records = measure(
            f"{name}, rerun with nothing new",
            chosen,
            matrix,
            house,
            out,
            cache=cache,
            recheck=WEEKLY_RECHECK,
            frontends=(),
            modes=(),
        )
        reused = sum(1 for r in records if r.cached_from)
        checked = [r for r in records if r.rechecked]
        differ = sum(1 for r in checked if r.verdict != (r.rechecked or {}).get("verdict"))
        share = 100 * again.wall / warm.wall if warm.wall else 0.0
        lines.append(
            f"{name}, rerun with nothing new: wall {again.wall:.1f} s ({share:.1f}% of the warm run), "
            f"{reused} cells from the cache, {len(checked)} rechecked for real: {differ} disagree"
        )
        print(lines[-1], flush=True)
        lines += change_points(metapath, matrix, house, out)
    return lines


def change_points(scenario: Scenario, matrix: Matrix, house: Wheelhouse, out: Path) -> list[str]:
    """run --changes on metapath, Python 3.11, pip's default mode, each time with an empty cache: as
    run (the ends and both sides of each change its expect: claims), then from the ends alone."""
    from isolation_harness.bisect import index_versions
    from isolation_harness.changes import pip_axis, run_changes

    lines = []
    releases = pip_axis(index_versions("pip"))
    for how, from_ends in (("seeded by its expect:", False), ("from the ends alone", True)):
        with tempfile.TemporaryDirectory(prefix="ih-bench-changes-") as cells:
            request = RunRequest(
                [scenario],
                matrix,
                DockerEngine(),
                house,
                out,
                pythons=["3.11"],
                frontends=["pip"],
                modes=["default"],
                cache=CellCache(Path(cells)),
            )
            start = time.monotonic()
            result = run_changes(request, releases, from_ends=from_ends)
            wall = time.monotonic() - start
        (axis,) = result.axes
        found = ", ".join(f"{c.first_changed} ({c.after}){axis.said(c)}" for c in axis.changes)
        share = 100 * len(axis.measured) / len(axis.releases)
        lines.append(
            f"change points, metapath/py3.11/pip, {how}: {len(axis.measured)} cells of the {len(axis.releases)} on "
            f"the whole pip axis ({share:.1f}%), {wall:.1f} s; first releases of its changes: {found}"
        )
        print(lines[-1], flush=True)
    return lines
