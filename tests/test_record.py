"""The typed cell record reads what the old code wrote, and writes it back unchanged."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from isolation_harness.errors import InputError
from isolation_harness.record import RECORD_FORMAT, CellRecord, combine_repeats
from isolation_harness.runfolder import RunFolder

from .conftest import ROOT, cell_record

# The golden records as they were before pip's modes and the frontends' releases were axes (format 1
# without mode, frontend_release, frontend_version; pip-venv a frontend): what old run folders hold.
GOLDEN = ROOT / "tests" / "data" / "records-before-modes.jsonl"
# Written since: read from an old record's frontend and artifacts.
NEW_KEYS = {"mode", "frontend_release", "frontend_version"}

# What the code before the typed record (a3dcb9f, cell.base_record and run_cell) wrote for a cell that
# ran; a not-applicable cell has neither the last three.
OLD_KEYS = {
    "format",
    "harness_version",
    "run_id",
    "cell",
    "scenario",
    "scenario_sha256",
    "project_sha256",
    "python",
    "pip",
    "frontend",
    "engine",
    "expected",
    "artifacts",
    "not_applicable",
    "verdict",
    "match",
    "reasons",
    "control",
    "experiment",
    "started",
    "finished",
    "duration",
    "pip_version_output",
    "git_version",
    "driver_log",
}
RAN_ONLY = {"pip_version_output", "git_version", "driver_log"}

RAN_DOCKER = "docker-newest", "metapath/py3.11/pip26.3/pip"
RAN_LOCAL = "local", "metapath/py3.13/pip25.0/pip"
NOT_APPLICABLE_DOCKER = "docker-newest", "dev-backend-wheels/py3.11/pip26.3/build"
NOT_APPLICABLE_LOCAL = "local", "user-site/py3.13/pip25.0/pip"


def _golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


def _as_written(record: dict[str, Any]) -> dict[str, Any]:
    """A golden record as the old code wrote it: the golden data drops the keys that differ between two
    runs of a cell (golden_records.normalize); put them back, with values of their kind."""
    data = {k: v for k, v in record.items() if k != "golden_group"}
    data.update(
        run_id="20250101T000000Z-metapath-abcdef",
        started="2025-01-01T00:00:00+00:00",
        finished="2025-01-01T00:00:07+00:00",
        duration=7.25 if data["control"] else 0.0,
    )
    image_id = "sha256:" + "a" * 64 if data["engine"]["name"] == "docker" and data["control"] else None
    data["engine"] = {**data["engine"], "image_id": image_id}
    for run in ("control", "experiment"):
        if data[run] is not None:
            data[run] = {**data[run], "duration": 2.5}
    return data


def _old(group: str, cell: str) -> dict[str, Any]:
    (found,) = [r for r in _golden() if (r["golden_group"], r["cell"]) == (group, cell)]
    return _as_written(found)


def _plain(value: Any) -> Any:
    """What json.dumps makes of a value: tuples become lists."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(
    ("group", "cell"), [RAN_DOCKER, RAN_LOCAL, NOT_APPLICABLE_DOCKER, NOT_APPLICABLE_LOCAL], ids=lambda v: v
)
def test_an_old_record_round_trips_exactly(group: str, cell: str) -> None:
    data = _old(group, cell)
    ran = data["verdict"] != "not-applicable"
    assert set(data) == (OLD_KEYS if ran else OLD_KEYS - RAN_ONLY)  # the old shape, whole
    record = CellRecord.from_json(copy.deepcopy(data))
    written = record.to_json()
    assert set(written) == set(data) | NEW_KEYS
    assert {k: v for k, v in _plain(written).items() if k not in NEW_KEYS} == data
    # Tuples in memory (facts, engine notes), lists in the JSON: nothing else differs.
    assert CellRecord.from_json(written) == record
    assert CellRecord.from_json(_plain(written)) == record


def test_an_old_pip_venv_record_reads_as_pip_in_venv_isolation_mode() -> None:
    (data,) = [
        _as_written(r)
        for r in _golden()
        if (r["golden_group"], r["cell"]) == ("docker-newest", "metapath/py3.11/pip26.3/pip-venv")
    ]
    record = CellRecord.from_json(data)
    assert (record.frontend, record.mode, record.cell, record.label) == (
        "pip",
        "venv-isolation",
        "metapath/py3.11/pip26.3/pip+venv-isolation",
        "pip+venv-isolation",
    )
    assert (record.frontend_release, record.frontend_version, record.verdict) == (None, "26.3", "held")
    (build,) = [
        _as_written(r)
        for r in _golden()
        if (r["golden_group"], r["cell"]) == ("docker-newest", "metapath/py3.11/pip26.3/build")
    ]
    built = CellRecord.from_json(build)
    assert (built.label, built.frontend_release) == ("build", None)
    assert built.frontend_version == "1.6.1"  # from its artifacts


def test_an_old_record_reads_into_its_fields() -> None:
    data = _old(*RAN_DOCKER)
    record = CellRecord.from_json(data)
    assert (record.cell, record.scenario, record.verdict, record.match, record.expected) == (
        "metapath/py3.11/pip26.3/pip",
        "metapath",
        "leaked",
        True,
        "leaked",
    )
    assert (record.python, record.python_exact) == ("3.11", data["python"]["exact"])
    assert (record.pip.version, record.pip_version, record.pip.source) == ("26.3", "26.3", "pypi")
    assert record.pip.wheel == "pip-26.3-py3-none-any.whl"
    assert record.frontend == "pip"
    assert (record.engine.name, record.engine.isolation) == ("docker", "container")
    assert record.engine.notes == tuple(data["engine"]["notes"])
    assert record.reasons == tuple(data["reasons"])
    assert [a.file for a in record.artifacts] == [a["file"] for a in data["artifacts"]]
    assert record.ran is not None
    assert record.ran.driver_log == data["driver_log"]
    assert record.ran.pip_version_output == data["pip_version_output"]
    for name in ("control", "experiment"):
        run = record.run(name)
        assert run is not None
        assert (run.log, run.probe_dir) == (data[name]["log"], data[name]["probe_dir"])
        assert run.facts.exit_code == data[name]["exit_code"]
        assert run.facts.host_code_ran == tuple(data[name]["host_code_ran"])
        assert run.facts.foreign_finders == tuple(data[name]["foreign_finders"])
    assert record.experiment is not None
    assert record.experiment.facts.host_code_ran  # the canary fired: it leaked
    assert record.run("neither") is None


def test_a_not_applicable_record_has_no_runs() -> None:
    data = _old(*NOT_APPLICABLE_DOCKER)
    record = CellRecord.from_json(data)
    assert (record.verdict, record.match, record.not_applicable) == ("not-applicable", True, data["not_applicable"])
    assert record.control is None
    assert record.experiment is None
    assert record.ran is None
    assert record.artifacts == ()
    assert record.python_exact is None


def test_every_golden_record_round_trips() -> None:
    records = _golden()
    assert len(records) > 100
    for golden in records:
        data = _as_written(golden)
        written = _plain(CellRecord.from_json(data).to_json())
        if data["frontend"] == "pip-venv":  # read as pip in its venv-isolation mode
            data = {**data, "frontend": "pip", "cell": data["cell"].replace("/pip-venv", "/pip+venv-isolation")}
            assert written["mode"] == "venv-isolation"
        assert {k: v for k, v in written.items() if k not in NEW_KEYS} == data, data["cell"]


def test_a_record_lacking_newer_keys_still_reads() -> None:
    data = _old(*RAN_DOCKER)
    del data["frontend"]  # records from before the frontends axis
    for name in ("control", "experiment"):
        del data[name]["host_pth_processed"]  # before .pth files of folders were told apart
    for key in ("image_recipe", "image_base", "base_packages"):  # before the image recipes
        del data["engine"][key]
    record = CellRecord.from_json(data)
    assert record.frontend == "pip"
    assert record.experiment is not None
    assert record.experiment.facts.host_pth_processed == ()
    assert record.experiment.facts.host_code_ran == tuple(data["experiment"]["host_code_ran"])
    assert (record.engine.image_recipe, record.engine.image_base, record.engine.base_packages) == (None, None, None)
    assert record.engine.image_id == data["engine"]["image_id"]
    written = record.to_json()  # written in today's shape, with the defaults
    assert written["frontend"] == "pip"
    assert written["experiment"]["host_pth_processed"] == ()
    assert written["engine"]["image_recipe"] is None


def test_unknown_keys_and_a_candidates_source_are_kept() -> None:
    data = _old(*RAN_LOCAL)
    data["pip"] = {
        **data["pip"],
        "version": "25.0+checkout.0123abcd",
        "source": {"kind": "checkout", "origin": "/src/pip", "commit": "0123abcd" * 5, "overlay": None},
    }
    data["written_by_a_newer_harness"] = {"x": [1, 2]}
    data["experiment"] = {**data["experiment"], "a_newer_fact": "kept"}
    data["repeats"] = ["held", "held"]
    record = CellRecord.from_json(data)
    assert record.experiment is not None
    assert record.experiment.extra == {"a_newer_fact": "kept"}
    assert isinstance(record.pip.source, dict)
    assert record.pip.source["kind"] == "checkout"
    assert record.repeats == ("held", "held")
    assert record.extra == {"written_by_a_newer_harness": {"x": [1, 2]}}
    assert record.frontend_version == "25.0+checkout.0123abcd"
    assert {k: v for k, v in _plain(record.to_json()).items() if k not in NEW_KEYS} == data


def test_a_newer_format_is_refused_with_the_upgrade() -> None:
    data = {**_old(*RAN_LOCAL), "format": RECORD_FORMAT + 1}
    assert RECORD_FORMAT == 1
    with pytest.raises(InputError, match=r"^results.jsonl:3: record format 2 is newer than this harness reads \(1\)"):
        CellRecord.from_json(data, where="results.jsonl:3")
    with pytest.raises(InputError, match="upgrade isolation-harness to read it"):
        CellRecord.from_json(data)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("cell"),
        lambda d: d.pop("verdict"),
        lambda d: d.update(pip="26.3"),
        lambda d: d.update(python=None),
        lambda d: d.update(engine={"name": "docker"}),  # no isolation
        lambda d: d.update(control=["not", "a", "table"]),
    ],
    ids=["no-cell", "no-verdict", "pip-not-a-table", "python-null", "engine-incomplete", "run-not-a-table"],
)
def test_garbage_is_an_input_error(change: Any) -> None:
    data = _old(*RAN_LOCAL)
    change(data)
    with pytest.raises(InputError, match=r"^results.jsonl:9: not a cell record this harness can read \("):
        CellRecord.from_json(data, where="results.jsonl:9")


def test_a_garbage_line_in_a_run_folder_is_an_input_error(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    folder.append(cell_record())
    with folder.results.open("a") as fh:
        fh.write(json.dumps({"verdict": "held"}) + "\n")  # whole JSON, but not a record
    with pytest.raises(InputError, match=r"results.jsonl:2: not a cell record this harness can read \(KeyError"):
        folder.records()


# -- repeats ------------------------------------------------------------------------------------------
def test_one_run_is_its_own_record() -> None:
    record = cell_record()
    assert combine_repeats([record]) is record
    assert combine_repeats([record]).repeats is None
    assert "repeats" not in record.to_json()


def test_repeats_that_agree_keep_the_verdict_and_say_so() -> None:
    first = cell_record(verdict="broke", match=False, reasons=("the experiment failed",))
    second = dataclasses.replace(first, started="later", reasons=("another reason",))
    combined = combine_repeats([first, second, second])
    assert (combined.verdict, combined.match, combined.reasons) == ("broke", False, ("the experiment failed",))
    assert combined.repeats == ("broke", "broke", "broke")
    assert combined.started == first.started  # the first run's record, with the repeats added
    assert dataclasses.replace(combined, repeats=None) == first
    assert combined.to_json()["repeats"] == ["broke", "broke", "broke"]


def test_repeats_that_differ_are_flaky() -> None:
    first = cell_record(verdict="leaked", match=True, expected="leaked")
    combined = combine_repeats([first, dataclasses.replace(first, verdict="held", match=False)])
    assert (combined.verdict, combined.match) == ("flaky", False)
    assert combined.repeats == ("leaked", "held")
    assert combined.reasons == ("verdicts differ between 2 repeats: leaked, held",)
    assert (combined.cell, combined.expected, combined.control) == (first.cell, "leaked", first.control)
    written = _plain(combined.to_json())
    assert (written["verdict"], written["match"], written["repeats"]) == ("flaky", False, ["leaked", "held"])
    assert CellRecord.from_json(written) == combined
