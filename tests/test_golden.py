"""The golden-record test of issue 15: the typed redesign changed no record.

The cells of ``tests/golden_records.RUNS`` (every scenario; Pythons 3.8, 3.11, 3.13; pips 19.3.1 to
26.3; the four frontends; the docker and the local engine) run through the command line a user runs,
and their records must equal the ones committed in ``tests/golden/records.jsonl``, taken from the code
before the redesign, apart from timings, ids and temporary paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import golden_records


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


@pytest.mark.engine
@pytest.mark.docker
def test_the_same_cells_are_recorded(after: dict[str, dict[str, Any]]) -> None:
    golden = golden_records.load()
    assert len(golden) == 108
    assert sorted(after) == sorted(golden)


@pytest.mark.engine
@pytest.mark.docker
def test_every_record_equals_its_golden_record(after: dict[str, dict[str, Any]]) -> None:
    golden = golden_records.load()
    if golden_records.fingerprint(after) != golden_records.fingerprint(golden):
        # Another machine (interpreters elsewhere, another image recipe): all but those facts equal.
        golden = {key: golden_records.portable(r) for key, r in golden.items()}
        after = {key: golden_records.portable(r) for key, r in after.items()}
    differ = {key: _differences(golden[key], after[key])[:5] for key in sorted(golden) if key in after}
    assert {key: lines for key, lines in differ.items() if lines} == {}


def test_a_machine_of_its_own_is_told_apart() -> None:
    # The golden records were taken here (pyenv interpreters, the local recipe); a record from an
    # official slim image differs only in what ``portable`` leaves out.
    golden = golden_records.load()
    key = "docker-newest:pth-exec/py3.11/pip26.3/pip"
    slim = json.loads(
        json.dumps(golden[key]).replace(f"/root/.pyenv/versions/{golden[key]['python']['exact']}", "/usr/local")
    )
    slim["python"]["exact"], slim["engine"]["image_recipe"] = "3.11.14", "slim"
    assert golden_records.fingerprint({key: slim}) != golden_records.fingerprint({key: golden[key]})
    assert golden_records.portable(slim) == golden_records.portable(golden[key])
    slim["verdict"] = "held"
    assert golden_records.portable(slim) != golden_records.portable(golden[key])


def test_the_golden_set_tells_verdicts_apart() -> None:
    # A golden set of one verdict would pass whatever the harness decides.
    golden = golden_records.load()
    verdicts = {r["verdict"] for r in golden.values()}
    assert {"held", "broke", "leaked", "unsupported", "not-applicable"} <= verdicts
    assert {r["frontend"] for r in golden.values()} == {"pip", "pip-venv", "build", "uv"}
    assert {r["engine"]["name"] for r in golden.values()} == {"docker", "local"}
