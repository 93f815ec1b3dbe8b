"""Sharding a run across machines (GitHub's runners) and merging the shards' records into one run.

A shard is one (scenario, Python) pair: every pip of the matrix for that pair runs in one job, so the
wheel directory and the image of a job serve all its cells. GitHub allows 256 jobs per matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def merge(run_dirs: Sequence[Path], out: Path) -> list[CellRecord]:
    """Join the records (and cell folders, scenario copies) of shard runs into the run folder ``out``."""
    sources = [RunFolder.existing(run_dir, option="shard run folder") for run_dir in run_dirs]
    return RunFolder(out).merge_from(sources)
