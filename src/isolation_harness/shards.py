"""Sharding a run across machines (GitHub's runners) and merging the shards' records into one run.

The unit is one (scenario, Python) pair: every pip of the matrix for that pair runs in one job, so the
wheel directory and the image of a job serve all its cells. Without a shard count each unit is a job
(GitHub allows 256 per matrix); with one, the units are packed into that many jobs balanced on the
cells' measured times (the result cache keeps each cell's duration), longest first onto the job that
ends soonest, so that the jobs finish together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolation_harness.errors import InputError
from isolation_harness.matrix import Matrix
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import RunFolder
from isolation_harness.scenario import Scenario

GITHUB_MATRIX_LIMIT = 256


def shard_matrix(scenarios: Sequence[Scenario], matrix: Matrix, *, pythons: Sequence[str] = ()) -> dict[str, Any]:
    """The ``include`` list of a GitHub job matrix, one entry per (scenario, Python)."""
    include = []
    for scenario in scenarios:
        axis = tuple(pythons) or matrix.narrowing(scenario.name).pythons or matrix.pythons
        for python in axis:
            include.append({"name": f"{scenario.name}-py{python}", "scenario": scenario.name, "python": python})
    if len(include) > GITHUB_MATRIX_LIMIT:
        raise InputError(f"{len(include)} shards is more than GitHub's {GITHUB_MATRIX_LIMIT} jobs per matrix")
    return {"include": include}


# A unit no cell of which was ever measured: about a matrix row of cells at a cell's usual time.
UNMEASURED_CELL = 12.0


@dataclass(frozen=True)
class Unit:
    scenario: str
    python: str
    estimate: float  # seconds of cells, from the measured times
    measured: int  # how many of its cells had a measured time

    @property
    def name(self) -> str:
        return f"{self.scenario}@{self.python}"


def units(
    scenarios: Sequence[Scenario], matrix: Matrix, durations: Mapping[str, float], *, pythons: Sequence[str] = ()
) -> list[Unit]:
    """Each (scenario, Python) with its estimated time: the sum of its cells' last measured times
    (cell ids scenario/pyX.Y/...), or, never measured, the median unit's."""
    per: dict[tuple[str, str], list[float]] = {}
    for cell, seconds in durations.items():
        scenario, _, rest = cell.partition("/py")
        per.setdefault((scenario, rest.split("/", 1)[0]), []).append(seconds)
    pairs = [
        (s.name, py) for s in scenarios for py in tuple(pythons) or matrix.narrowing(s.name).pythons or matrix.pythons
    ]
    known = sorted(sum(per[p]) for p in pairs if p in per)
    default = known[len(known) // 2] if known else UNMEASURED_CELL * len(matrix.pips)
    return [Unit(s, py, sum(per[(s, py)]) if (s, py) in per else default, len(per.get((s, py), []))) for s, py in pairs]


def balanced(found: Sequence[Unit], count: int) -> list[list[Unit]]:
    """``count`` shards (fewer if there are fewer units), longest unit first onto the lightest shard."""
    if count < 1:
        raise InputError("--shards must be 1 or more")
    shards: list[list[Unit]] = [[] for _ in range(min(count, len(found)))]
    for unit in sorted(found, key=lambda u: (-u.estimate, u.name)):
        min(shards, key=lambda shard: (sum(u.estimate for u in shard), len(shard))).append(unit)
    return [shard for shard in shards if shard]


def balanced_matrix(shards: Sequence[Sequence[Unit]]) -> dict[str, Any]:
    """The ``include`` list of a GitHub job matrix, one entry per balanced shard."""
    include = [
        {
            "name": f"shard-{n}",
            "units": " ".join(u.name for u in shard),
            "estimate": round(sum(u.estimate for u in shard)),
        }
        for n, shard in enumerate(shards, 1)
    ]
    return {"include": include}


def merge(run_dirs: Sequence[Path], out: Path) -> list[CellRecord]:
    """Join the records (and cell folders, scenario copies) of shard runs into the run folder ``out``."""
    sources = [RunFolder.existing(run_dir, option="shard run folder") for run_dir in run_dirs]
    return RunFolder(out).merge_from(sources)
