"""The benchmark behind issue 9's targets: a fixed set of cells, cold and warm, with its overhead.

`overhead = warm wall / (sum of the bare action times / jobs)`: the floor of a run is the control and
experiment actions themselves, spread over the jobs. Timed here, never in tests.
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
from isolation_harness.engines.docker import DockerEngine
from isolation_harness.images import prefix
from isolation_harness.matrix import Matrix
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
) -> Figures:
    engine = DockerEngine()
    request = RunRequest(
        scenarios,
        matrix,
        engine,
        wheelhouse,
        out,
        pythons=pythons,
        pips=pips,
        frontends=["pip"],
        modes=["default"],
        jobs=jobs,
    )
    start = time.monotonic()
    result = runner.run(request)
    wall = time.monotonic() - start
    ran = [(r.control, r.experiment) for r in result.records if r.control is not None]
    actions = sum(c.facts.duration + (e.facts.duration if e else 0.0) for c, e in ran if c is not None)
    return Figures(label, len(result.records), len(ran), wall, actions, jobs or os.cpu_count() or 1)


def run(scenarios: dict[str, Scenario], matrix: Matrix, *, full: bool, out: Path) -> list[str]:
    """Cold then warm on the bench set (own image prefix, empty wheel directory), then the full matrix warm."""
    lines = []
    metapath = [scenarios["metapath"]]
    with tempfile.TemporaryDirectory(prefix="ih-bench-wheels-") as tmp, image_prefix(BENCH_PREFIX):
        removed = remove_images(DockerEngine())
        lines.append(f"cold start: removed {removed} {BENCH_PREFIX} images, empty wheel directory {tmp}")
        house = Wheelhouse(Path(tmp))
        cold = measure(
            "cold (images, wheels, prepared environments built)",
            metapath,
            matrix,
            house,
            out,
            pythons=BENCH_PYTHONS,
            pips=BENCH_PIPS,
        )
        warm = measure("warm", metapath, matrix, house, out, pythons=BENCH_PYTHONS, pips=BENCH_PIPS)
        lines += [cold.line(), warm.line()]
    if full:
        from isolation_harness.wheelhouse import default_location

        house = Wheelhouse(default_location())
        measure("full matrix, first pass (fills caches)", list(scenarios.values()), matrix, house, out)
        whole = measure("full matrix, warm", list(scenarios.values()), matrix, house, out)
        lines.append(whole.line())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"harness peak memory (max RSS of this process): {peak:.0f} MB")
    shutil.rmtree(out, ignore_errors=True)
    return lines
