"""The golden-record test of issue 15: the typed redesign changed no record.

The cells of ``tests/golden_records.RUNS`` (every scenario; Pythons 3.8, 3.11, 3.13; pips 19.3.1 to
26.3; the four frontends; the docker and the local engine) run through the command line a user runs,
and their records must equal the ones committed in ``tests/golden/records.jsonl``, taken from the code
before the redesign, apart from timings, ids and temporary paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import golden_records

pytestmark = [pytest.mark.engine, pytest.mark.docker]


@pytest.fixture(scope="module")
def after(golden_runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return golden_records.normalized_runs(golden_runs.items())


def _differences(before: Any, now: Any, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(before) | set(now)):
            found += _differences(before.get(key, "<absent>"), now.get(key, "<absent>"), f"{where}.{key}")
        return found
    return [] if before == now else [f"{where}: {before!r} -> {now!r}"]


def test_the_same_cells_are_recorded(after: dict[str, dict[str, Any]]) -> None:
    golden = golden_records.load()
    assert len(golden) == 108
    assert sorted(after) == sorted(golden)


def test_every_record_equals_its_golden_record(after: dict[str, dict[str, Any]]) -> None:
    golden = golden_records.load()
    differ = {key: _differences(golden[key], after[key])[:5] for key in sorted(golden) if key in after}
    assert {key: lines for key, lines in differ.items() if lines} == {}


def test_the_golden_set_tells_verdicts_apart() -> None:
    # A golden set of one verdict would pass whatever the harness decides.
    golden = golden_records.load()
    verdicts = {r["verdict"] for r in golden.values()}
    assert {"held", "broke", "leaked", "unsupported", "not-applicable"} <= verdicts
    assert {r["frontend"] for r in golden.values()} == {"pip", "pip-venv", "build", "uv"}
    assert {r["engine"]["name"] for r in golden.values()} == {"docker", "local"}
