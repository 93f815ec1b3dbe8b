"""The golden-record test of issue 15: the typed redesign changed no record, and nothing since has.

The cells of ``tests/golden_records.RUNS`` (every scenario; Pythons 3.8, 3.11, 3.13; pips 19.3.1 to
26.3; pip in its default and venv modes, pypa/build 1.6.1, uv 0.13.9; the docker and the local engine)
run through the command line a user runs, and their records must equal the ones committed in
``tests/golden/records.jsonl`` apart from timings, ids and temporary paths. Those were taken before the
redesign, and again when modes and releases became axes (issue 16), checked equal to the old ones but
for the new keys and cell names (``test_the_records_before_modes_are_the_same_cells``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import golden_records

# The probe wheel's sha256 in the records taken before issue 17 changed the probe.
PROBE_THEN = "9ce8f1854bdd6be192ebbd51b0e00642f512918ca0d1f2d3398a35df2dd9a3d6"


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
    assert len(golden) == golden_records.COUNT
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
    assert {(r["frontend"], r["mode"], r["frontend_release"]) for r in golden.values()} == {
        ("pip", "default", None),
        ("pip", "venv-isolation", None),
        ("build", "default", "1.6.1"),
        ("uv", "default", "0.13.9"),
    }
    assert {r["engine"]["name"] for r in golden.values()} == {"docker", "local"}


def test_the_records_before_modes_are_the_same_cells() -> None:
    """The golden records taken again for issue 16 are those taken before it (issue 15's, kept in
    tests/data), read through today's record: the same verdicts and facts, the new keys apart."""
    from isolation_harness.record import CellRecord

    before: dict[str, dict[str, Any]] = {}
    for line in golden_records.BEFORE_MODES.read_text().splitlines():
        data = json.loads(line)
        record = CellRecord.from_json({**data, "run_id": "", "started": "", "finished": "", "duration": 0})
        label = {"build": "build==1.6.1", "uv": "uv==0.13.9"}.get(record.frontend, record.label)
        cell = f"{record.cell.rpartition('/')[0]}/{label}"
        # The cell's folder (in its log paths) is named after its id, which names the frontend anew.
        renamed = json.dumps(data).replace(data["cell"].replace("/", "__"), cell.replace("/", "__"))
        # Its probe wheel was the probe of that time (9ce8f185...): the one the golden records name
        # as this tree's (the probe has changed since: issue 17's other copies and legacy projects).
        before[f"{data['golden_group']}:{cell}"] = golden_records.with_probe_marker(json.loads(renamed), PROBE_THEN)
    now = golden_records.load()
    common = sorted(set(before) & set(now))
    assert len(common) == len(before) == 108
    assert {k for k in now if k not in before} == {k for k in now if ":build-pythonpath/" in k}
    # The new keys, the new names, and the scenario files' hashes (their expectations were rewritten).
    new_keys = {"mode", "frontend_release", "frontend_version", "cell", "frontend", "scenario_sha256"}
    differ = {
        key: _differences(
            {k: v for k, v in before[key].items() if k not in new_keys},
            {k: v for k, v in now[key].items() if k not in new_keys},
        )[:5]
        for key in common
    }
    assert {key: lines for key, lines in differ.items() if lines} == {}
