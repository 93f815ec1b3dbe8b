"""Sharding a run across machines (GitHub's runners) and merging the shards' records into one run.

A shard is one (scenario, Python) pair: every pip of the matrix for that pair runs in one job, so the
wheel directory and the image of a job serve all its cells. GitHub allows 256 jobs per matrix.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isolation_harness.errors import InputError
from isolation_harness.matrix import Matrix
from isolation_harness.records import RESULTS, RecordWriter, read_records
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


def merge(run_dirs: Sequence[Path], out: Path) -> list[dict[str, Any]]:
    """Join the records (and cell folders, scenario copies) of shard runs into the run folder ``out``."""
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out}: exists and is not empty; merge into a new folder")
    seen: dict[str, Path] = {}
    records: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        if not (run_dir / RESULTS).is_file():
            raise InputError(f"{run_dir}: no {RESULTS}; pass the run folders the shards wrote")
        for record in read_records(run_dir):
            if record["cell"] in seen:
                raise InputError(f"{run_dir}: cell {record['cell']} is also in {seen[record['cell']]}; shards overlap")
            seen[record["cell"]] = run_dir
            records.append(record)
    writer = RecordWriter(out)
    for run_dir in run_dirs:
        for sub in ("scenarios", "cells"):
            if (run_dir / sub).is_dir():
                shutil.copytree(run_dir / sub, out / sub, dirs_exist_ok=True)
    for record in sorted(records, key=lambda r: r["cell"]):
        writer.append(record)
    (out / "merged.json").write_text(json.dumps({"from": [str(p) for p in run_dirs], "cells": len(records)}, indent=1))
    return records
