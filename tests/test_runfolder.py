"""The run folder: records appended whole and read back, the plan, scenario copies, merging shards."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import pytest

from isolation_harness.errors import InputError
from isolation_harness.record import CellRecord
from isolation_harness.runfolder import PLAN, RESULTS, Plan, RunFolder, new_run_id
from isolation_harness.scenario import Scenario
from tests.conftest import SCENARIOS

from .conftest import cell_record

CELLS = ("s/py3.11/pip24.0/pip", "s/py3.11/pip25.0/pip", "s/py3.12/pip25.0/uv")


def _records(run_id: str = "run-1", cells: tuple[str, ...] = CELLS) -> list[CellRecord]:
    verdicts = ("held", "broke", "leaked")
    return [cell_record(cell, run_id=run_id, verdict=verdicts[i % 3]) for i, cell in enumerate(cells)]


def _plan(**changes: object) -> Plan:
    plan = Plan(
        cells=CELLS,
        scenarios=("s",),
        pythons=("3.11", "3.12"),
        pips=("24.0", "25.0"),
        frontends=("pip", "uv"),
        repeat=2,
        timeout=30,
        sources="scenarios ./scenarios (./scenarios); matrix ./matrix.yaml (./matrix.yaml)",
    )
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


# -- records ------------------------------------------------------------------------------------------
def test_records_appended_read_back_in_order(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "out", "run-1")
    assert folder.path == (tmp_path / "out" / "run-1").resolve()
    assert folder.run_id == "run-1"
    assert folder.records() == []  # no results.jsonl yet
    records = _records()
    for record in records:
        folder.append(record)
    again = RunFolder(tmp_path / "out" / "run-1")  # another reader of the same folder
    assert again.records() == records
    assert again.by_cell() == {r.cell: r for r in records}
    # One whole JSON object per line, keys sorted: what tools reading results.jsonl themselves get.
    lines = folder.results.read_text().splitlines()
    assert lines == [json.dumps(json.loads(json.dumps(r.to_json())), sort_keys=True) for r in records]


def test_record_of_a_cell(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    for record in _records():
        folder.append(record)
    assert folder.record_of(CELLS[1]).verdict == "broke"
    with pytest.raises(InputError, match=r"no cell 's/py3.9/pip24.0/pip' in results.jsonl \(cells look like: s/py3.11"):
        folder.record_of("s/py3.9/pip24.0/pip")


def test_a_damaged_line_is_skipped_and_reported(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    first, second, _ = _records()
    folder.append(first)
    with folder.results.open("a") as fh:
        fh.write('{"cell": "s/py3.12/pip24.0/pip", "verd\n')  # a crash in the middle of a write
        fh.write("\n")  # a blank line is no record, and no damage
        fh.write("[1, 2]\n")  # JSON, but not an object
    folder.append(second)
    with folder.results.open("a") as fh:
        fh.write('{"cell": "s/py3.12/pip24.0/pip", "verd')  # the last write, cut short
    damaged: list[str] = []
    assert folder.records(damaged=damaged) == [first, second]
    assert damaged == [
        f"{folder.results}:2: damaged record skipped",
        f"{folder.results}:4: damaged record skipped",
        f"{folder.results}:6: damaged record skipped",
    ]
    assert folder.records() == [first, second]  # without a list to report into, still skipped


def test_a_record_after_a_torn_line_is_whole(tmp_path: Path) -> None:
    # A crash cut the last write; the resumed run's first record starts on a line of its own.
    folder = RunFolder(tmp_path)
    first, second, _ = _records()
    folder.append(first)
    with folder.results.open("a") as fh:
        fh.write('{"cell": "s/py3.12/pip24.0/pip", "verd')
    folder.append(second)
    damaged: list[str] = []
    assert folder.records(damaged=damaged) == [first, second]
    assert damaged == [f"{folder.results}:2: damaged record skipped"]


def test_cell_folders_and_relative_paths(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    slug = "s__py3.11__pip24.0__pip"
    assert folder.cell_dir(slug) == tmp_path.resolve() / "cells" / slug
    assert folder.cell_dir(slug, 2) == tmp_path.resolve() / "cells" / f"{slug}__repeat2"
    assert folder.relative(folder.cell_dir(slug) / "driver.log") == f"cells/{slug}/driver.log"
    assert folder.relative(Path("/elsewhere/x.log")) == "/elsewhere/x.log"


def test_a_run_of_the_whole_catalogue_has_a_folder_name_a_file_system_takes(tmp_path: Path) -> None:
    names = [p.stem for p in sorted(SCENARIOS.glob("*.yaml"))]
    run_id = new_run_id(names)
    assert run_id.split("-", 1)[1].startswith(f"{names[0]}+{len(names) - 1}-more-")
    (tmp_path / run_id).mkdir()  # 255 bytes at most
    assert len(new_run_id(["a" * 100])) < 255


def test_new_run_id_names_the_scenarios() -> None:
    run_id = new_run_id(["metapath", "vcs-target"])
    assert re.fullmatch(r"\d{8}T\d{6}Z-metapath\+vcs-target-[0-9a-f]{6}", run_id), run_id
    assert new_run_id(["metapath"]) != new_run_id(["metapath"])


# -- the plan -----------------------------------------------------------------------------------------
def test_the_plan_is_written_once(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    first = _plan()
    folder.write_plan(first)
    folder.write_plan(_plan(cells=CELLS[:1], repeat=1, timeout=None, sources="other"))  # a resumed run
    assert folder.plan() == first
    assert RunFolder(tmp_path).plan() == first
    assert json.loads((tmp_path / PLAN).read_text())["cells"] == list(CELLS)
    assert not list(tmp_path.glob("*.tmp"))


def test_an_old_plan_without_the_newer_keys_reads(tmp_path: Path) -> None:
    old = {"cells": ["s/py3.11/pip24.0/pip"], "scenarios": ["s"], "pythons": ["3.11"], "pips": ["24.0"]}
    (tmp_path / PLAN).write_text(json.dumps(old))
    assert RunFolder(tmp_path).plan() == Plan(("s/py3.11/pip24.0/pip",), ("s",), ("3.11",), ("24.0",), ())


@pytest.mark.parametrize(
    "text",
    [
        None,
        "{not json",
        "[1, 2]",
        '{"cells": []}',
    ],
)
def test_no_readable_plan_names_what_to_pass(tmp_path: Path, text: str | None) -> None:
    if text is not None:
        (tmp_path / PLAN).write_text(text)
    with pytest.raises(InputError, match=r"--resume .*: no readable plan.json; pass the folder of a run to resume"):
        RunFolder(tmp_path).plan()


# -- an existing run ----------------------------------------------------------------------------------
def test_existing_needs_a_results_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        RunFolder.existing(tmp_path / "nope")
    assert info.value.message == (
        f"RUN_DIR {tmp_path / 'nope'}: no results.jsonl; pass the folder of a run (results/<run-id>)"
    )
    with pytest.raises(InputError, match=r"^--baseline .*: no results.jsonl; pass the folder of a run"):
        RunFolder.existing(tmp_path, option="--baseline")
    (tmp_path / RESULTS).write_text("")
    assert RunFolder.existing(tmp_path).path == tmp_path.resolve()


# -- scenario copies ----------------------------------------------------------------------------------
def test_the_scenario_a_record_was_made_with(tmp_path: Path, metapath: Scenario) -> None:
    folder = RunFolder(tmp_path)
    folder.keep_scenarios([metapath, metapath])
    copy = tmp_path / "scenarios" / "metapath.yaml"
    assert copy.read_bytes() == metapath.source.read_bytes()
    record = cell_record(
        "metapath/py3.11/pip24.0/pip",
        scenario_sha256=hashlib.sha256(copy.read_bytes()).hexdigest(),
        project_sha256=metapath.project.digest,
    )
    assert folder.scenario_of(record).project.digest == metapath.project.digest
    assert folder.scenario("metapath").name == "metapath"
    with pytest.raises(InputError, match=r"its project files differ from the ones the record was made with"):
        folder.scenario_of(dataclasses.replace(record, project_sha256="0" * 64))
    with pytest.raises(InputError, match=r"no copy of scenario 'other' in the run folder"):
        folder.scenario_of(dataclasses.replace(record, scenario="other"))
    copy.write_text(copy.read_text() + "\n# changed after the run\n")
    with pytest.raises(InputError, match=r"metapath.yaml: differs from the scenario the record was made with"):
        folder.scenario_of(record)


# -- merging shards ----------------------------------------------------------------------------------
def _shard(root: Path, name: str, cells: tuple[str, ...]) -> RunFolder:
    folder = RunFolder.create(root, name)
    for record in _records(name, cells):
        folder.append(record)
        (folder.cell_dir(record.cell.replace("/", "__")) / "driver.log").parent.mkdir(parents=True)
        (folder.cell_dir(record.cell.replace("/", "__")) / "driver.log").write_text(record.cell)
    (folder.path / "scenarios").mkdir()
    (folder.path / "scenarios" / "s.yaml").write_text("name: s\n")
    return folder


def test_merge_joins_shards(tmp_path: Path) -> None:
    a = _shard(tmp_path, "a", (CELLS[2], CELLS[0]))
    b = _shard(tmp_path, "b", (CELLS[1],))
    target = RunFolder(tmp_path / "merged")
    merged = target.merge_from([a, b])
    assert sorted(r.cell for r in merged) == sorted(CELLS)
    assert [r.cell for r in target.records()] == sorted(CELLS)  # written in cell order
    assert target.by_cell() == {r.cell: r for r in [*a.records(), *b.records()]}
    for cell in CELLS:
        assert (target.cell_dir(cell.replace("/", "__")) / "driver.log").read_text() == cell
    assert (target.path / "scenarios" / "s.yaml").is_file()
    summary = json.loads((target.path / "merged.json").read_text())
    assert summary == {"from": [str(a.path), str(b.path)], "cells": 3}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(RunFolder(empty).merge_from([a, b])) == 3  # an empty folder is a fine target


def test_merge_refuses_overlapping_shards(tmp_path: Path) -> None:
    a = _shard(tmp_path, "a", CELLS[:2])
    b = _shard(tmp_path, "b", CELLS[1:])
    target = RunFolder(tmp_path / "merged")
    with pytest.raises(InputError) as info:
        target.merge_from([a, b])
    assert info.value.message == f"{b.path}: cell {CELLS[1]} is also in {a.path}; shards overlap"
    assert not target.path.exists()  # refused before anything was written


def test_merge_refuses_a_target_that_is_not_empty(tmp_path: Path) -> None:
    a = _shard(tmp_path, "a", CELLS[:1])
    target = tmp_path / "merged"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match=r"^--out .*merged: exists and is not empty; merge into a new folder$"):
        RunFolder(target).merge_from([a])
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
