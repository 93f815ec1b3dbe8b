"""The docker engine's pipeline (issue 19): a cell's container is started ahead of its turn, its
driver waits (``driver.py --when``), and only ``--jobs`` drivers run at once. Real cells on docker:
with one job the drivers' runs do not overlap, each cell's duration leaves out its wait for the slot,
and the verdicts are the ones pip's releases give (24.0 broke, 25.0 leaked)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.conftest import run_cells

pytestmark = [pytest.mark.engine, pytest.mark.docker]


def test_one_job_runs_one_driver_at_a_time_and_waiting_is_not_a_cells_time(tmp_path: Path) -> None:
    folder = run_cells(tmp_path, "metapath", "3.11", "24.0", "24.3.1", "25.0", extra=("--jobs", "1", "--no-cache"))
    records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert {r["pip"]["version"]: r["verdict"] for r in records} == {
        "24.0": "broke",
        "24.3.1": "broke",
        "25.0": "leaked",
    }
    spans = []
    for record in records:
        result = json.loads((folder / record["driver_log"]).with_name("result.json").read_text())
        driver = result["phases"]["experiment"]  # from its turn's start to the end of the experiment
        spans.append((result["began"], result["began"] + driver))
        # Two workers for one job: the second cell's container waited ~3 s for the first; its record
        # counts its own setup and copying, not that wait.
        assert driver <= record["duration"] < driver + 2.0, (record["cell"], record["duration"], driver)
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01, spans  # one driver at a time
